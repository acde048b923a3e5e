"""A saved folder loads in a fresh process where only torch, numpy and transformers are importable:
the model through AutoModelForSequenceClassification (and its trunk through AutoModel), its processor
through AutoProcessor, with results equal to the package's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gym_gesture import GymGestureConfig
from gym_gesture import GymGestureForSequenceClassification
from gym_gesture.core.paths import MODEL_CODE_DIR
from gym_gesture.data.windows import windows_from_sequence
from gym_gesture.hub.publish import REMOTE_CODE
from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, SHIPPED_MODELS, load_model, resolve_model_dir, window_probabilities

from conftest import FIXTURES

LOADER = r"""
import importlib.abc, json, sys

class BlockProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "gym_gesture" or name.startswith("gym_gesture."):
            raise ImportError("the project must not be importable here")

sys.meta_path.insert(0, BlockProject())
import numpy as np
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoProcessor

folder, inputs, mode, frame_size = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
answer = {"class": type(model).__name__, "module": type(model).__module__}
with torch.no_grad():
    if mode == "windows":
        keypoints = torch.load(inputs, weights_only=True)
        logits = model(keypoints).logits
        trunk = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
        answer["trunk_class"] = type(trunk).__name__
        answer["embedding"] = trunk(keypoints).pooler_output.tolist()
    else:  # raw landmarks of one clip, through the folder's processor, as the model card's lines do
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
        answer["processor_class"] = type(processor).__name__
        landmarks = np.load(inputs)
        logits = model(**processor(landmarks, layout="mediapipe33", fps=30.0, frame_size=frame_size,
                                   return_tensors="pt")).logits
        answer["spans"] = processor(landmarks, layout="mediapipe33", fps=30.0, return_spans=True)["spans"].tolist()
answer["logits"] = logits.tolist()
answer["labels"] = [model.config.id2label[i] for i in logits.argmax(-1).tolist()]
answer["project_loaded"] = any(m.startswith("gym_gesture") for m in sys.modules)
print(json.dumps(answer))
"""


def load_in_fresh_process(folder, inputs: torch.Tensor | np.ndarray, tmp_path,
                          frame_size: tuple[int, int] | None = None) -> dict:
    """Run LOADER on `folder` in a new interpreter with the project blocked; its JSON answer. A tensor is
    a batch of windows for the model; an array is one clip of MediaPipe-33 landmarks for the processor, in
    frames of `frame_size` (width, height)."""
    if isinstance(inputs, torch.Tensor):
        path, mode = tmp_path / "inputs.pt", "windows"
        torch.save(inputs, path)
    else:
        path, mode = tmp_path / "landmarks.npy", "landmarks"
        np.save(path, inputs)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run([sys.executable, "-c", LOADER, str(folder), str(path), mode, json.dumps(frame_size)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fresh_process_loads_saved_folder_with_trust_remote_code(tmp_path):
    torch.manual_seed(0)
    config = GymGestureConfig(id2label={0: "squat", 1: "push up", 2: "bench press"}, d_model=32, ffn_dim=64)
    model = GymGestureForSequenceClassification(config).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    keypoints = torch.randn(3, 60, 17, 3)
    with torch.no_grad():
        expected = model(keypoints).logits
        embedding = model.model(keypoints).pooler_output

    loaded = load_in_fresh_process(folder, keypoints, tmp_path)
    assert (loaded["class"], loaded["trunk_class"]) == ("GymGestureForSequenceClassification", "GymGestureModel")
    assert loaded["module"].startswith("transformers_modules.")  # the copied remote code, not the package
    assert not loaded["project_loaded"]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(loaded["embedding"]), embedding, rtol=1e-5, atol=1e-6)
    assert loaded["labels"] == [config.id2label[i] for i in expected.argmax(-1).tolist()]


def test_hub_user_goes_from_mediapipe_landmarks_to_the_packages_logits(shared_data, tmp_path):
    """The model card's few lines (AutoProcessor + AutoModelForSequenceClassification, no package) give
    the package's windows and logits on a real clip of MediaPipe landmarks."""
    with np.load(shared_data / "keypoints" / "gym5_mediapipe33.npz") as archive:
        clip_id = sorted(key for key in archive.files if key.startswith("squat/"))[0]
        landmarks = archive[clip_id].astype(np.float32)  # (T, 33, 4): x, y, z, visibility; NaN where lost
    model = load_model(DEFAULT_MODEL_DIR)
    frame_size = (1280, 720)  # the archive did not record it
    windows = windows_from_sequence(landmarks, "mediapipe33", 30.0, model.config, frame_size=frame_size)
    assert len(windows) >= 2

    loaded = load_in_fresh_process(DEFAULT_MODEL_DIR, landmarks, tmp_path, frame_size)
    assert loaded["processor_class"] == "GymGestureProcessor" and not loaded["project_loaded"]
    np.testing.assert_allclose(loaded["spans"], windows.spans, rtol=1e-6)
    expected = window_probabilities(model, windows.keypoints, windows.attention_mask)
    probabilities = torch.tensor(loaded["logits"]).softmax(-1).numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
    assert set(loaded["labels"]) == {"squat"}


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_model_card_lines_run_on_a_real_clips_landmarks_without_the_package(name, tmp_path):
    """`model(**processor(landmarks, ...)).logits`, in a fresh process without the package, on the MediaPipe
    landmarks of the squat fixture: the processor returns the model's inputs only, and the logits are the
    package's."""
    landmarks = np.load(FIXTURES / "squat_clip_mediapipe33.npy")  # (75, 33, 4): x, y, z, visibility
    frame_size = (320, 180)  # squat_clip.mp4's
    model = load_model(name)
    windows = windows_from_sequence(landmarks, "mediapipe33", 30.0, model.config, frame_size=frame_size)
    with torch.no_grad():
        expected = model(torch.from_numpy(windows.keypoints), torch.from_numpy(windows.attention_mask)).logits

    loaded = load_in_fresh_process(resolve_model_dir(name), landmarks, tmp_path, frame_size)
    assert loaded["processor_class"] == "GymGestureProcessor" and not loaded["project_loaded"]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded["spans"], windows.spans, rtol=1e-6)
    assert set(loaded["labels"]) == {"squat"}


def test_processor_returns_model_inputs_and_where_windows_come_from_only_when_asked():
    """`processor(...)` holds what the model takes; `return_spans=True` adds each window's span and clip."""
    from gym_gesture import GymGestureProcessor

    processor = GymGestureProcessor.from_model_config(load_model(DEFAULT_MODEL_DIR).config)
    landmarks = np.load(FIXTURES / "squat_clip_mediapipe33.npy")
    clips = [landmarks, landmarks[:40]]
    inputs = processor(clips, layout="mediapipe33", fps=30.0)
    assert set(inputs) == {"keypoints", "attention_mask"} == set(processor.model_input_names)
    located = processor(clips, layout="mediapipe33", fps=30.0, return_spans=True)
    one = processor.windows(landmarks[:40], "mediapipe33", 30.0)
    np.testing.assert_array_equal(located["keypoints"], inputs["keypoints"])
    np.testing.assert_array_equal(located["clip_index"], [0] * (len(inputs["keypoints"]) - len(one[0])) + [1] * len(one[0]))
    np.testing.assert_array_equal(located["spans"][located["clip_index"] == 1], one[2])


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_checkpoint_carries_the_package_code(name):
    """The code files saved beside each shipped checkpoint's weights are the package's own (every module of
    its model/), byte for byte, and its processor config is the one its model config implies."""
    from gym_gesture import GymGestureProcessor

    folder = resolve_model_dir(name)
    package = MODEL_CODE_DIR
    assert sorted(path.name for path in folder.glob("*.py")) == list(REMOTE_CODE)
    for code in REMOTE_CODE:
        assert (folder / code).read_bytes() == (package / code).read_bytes(), code
    saved = GymGestureProcessor.from_pretrained(folder).to_dict()
    implied = GymGestureProcessor.from_model_config(GymGestureConfig.from_pretrained(folder)).to_dict()
    assert saved.pop("auto_map") == {"AutoProcessor": "processing_gym_gesture.GymGestureProcessor"}
    assert saved == implied


@pytest.mark.parametrize("auto_class", ["AutoModel", "AutoModelForSequenceClassification", "AutoProcessor"])
def test_auto_classes_load_the_shipped_checkpoint_without_remote_code(auto_class):
    """With the package imported, the Auto classes load its own classes (no trust_remote_code)."""
    import transformers

    import gym_gesture

    gym_gesture.register_auto_classes()
    loaded = getattr(transformers, auto_class).from_pretrained(DEFAULT_MODEL_DIR)
    expected = {"AutoModel": "GymGestureModel", "AutoModelForSequenceClassification": "GymGestureForSequenceClassification",
                "AutoProcessor": "GymGestureProcessor"}[auto_class]
    assert type(loaded).__name__ == expected and type(loaded).__module__.startswith("gym_gesture.")
