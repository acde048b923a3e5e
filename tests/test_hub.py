"""`gym-gesture push --dry-run` (also `python hub_upload.py`): the exact folders pushed, loadable by transformers alone, with valid card metadata."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gym_gesture.cli import main
from gym_gesture.hub.publish import build_space_folder
from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, FORM_MODEL_FILE

from conftest import REPO_ROOT
from test_remote_code import load_in_fresh_process

# What `gym-gesture evaluate --json` writes (the keys the card reads), for models that come without one.
EVALUATION = {
    "split": "test", "labels": ["squat", "plank"], "num_windows": 120, "num_clips": 21,
    "window_accuracy": 0.9712, "window_macro_precision": 0.9688, "window_macro_recall": 0.9641,
    "window_macro_f1": 0.9655, "clip_accuracy": 0.9905, "clip_macro_precision": 0.9875,
    "clip_macro_recall": 0.985, "clip_macro_f1": 0.9861,
    "per_class": {
        "squat": {"window_f1": 0.95, "window_support": 70, "clip_f1": 1.0, "clip_support": 12},
        "plank": {"window_f1": 0.981, "window_support": 50, "clip_f1": 0.97, "clip_support": 9},
    },
}


def push(argv) -> int:
    """`gym-gesture push ARGV` in this process."""
    return main(["push", *argv])


def _run(args, env=None, cwd=REPO_ROOT):
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **(env or {}))
    return subprocess.run([sys.executable, str(REPO_ROOT / "hub_upload.py"), *map(str, args)], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dry_run(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("hub")
    evaluation_json = model_dir / "evaluation.json"
    if not evaluation_json.is_file():
        evaluation_json = out / "evaluation.json"
        evaluation_json.write_text(json.dumps(EVALUATION))
    assert push(["--model-dir", str(model_dir), "--repo-id", "someone/gym-gesture", "--space-id",
                 "someone/gym-gesture-demo", "--evaluation-json", str(evaluation_json),
                 "--dry-run", str(out / "build")]) == 0
    return out / "build", json.loads(evaluation_json.read_text())


def test_model_folder_holds_what_auto_map_needs(dry_run):
    folder = dry_run[0] / "model"
    config = json.loads((folder / "config.json").read_text())
    for target in config["auto_map"].values():
        assert (folder / f"{target.split('.')[0]}.py").is_file()
    assert {"config.json", "model.safetensors", "README.md", "evaluation.json"} <= {p.name for p in folder.iterdir()}


def test_model_folder_of_the_models_own_save_carries_all_model_code_and_a_processor(tmp_path):
    """A folder written by the model's `save_pretrained` alone holds no processor: the pushed folder gets
    the one its config implies, and every module of the package's model/ (`REMOTE_CODE`)."""
    from gym_gesture import GymGestureConfig, GymGestureForSequenceClassification, GymGestureProcessor
    from gym_gesture.hub.publish import REMOTE_CODE, build_model_folder

    config = GymGestureConfig(id2label={0: "squat", 1: "plank"}, d_model=32, ffn_dim=64)
    GymGestureForSequenceClassification(config).save_pretrained(tmp_path / "saved")
    assert not (tmp_path / "saved" / "preprocessor_config.json").exists()
    built = build_model_folder(tmp_path / "saved", tmp_path / "model", "someone/gym-gesture")
    assert sorted(path.name for path in built.glob("*.py")) == list(REMOTE_CODE)
    saved = GymGestureProcessor.from_pretrained(built).to_dict()
    saved.pop("auto_map")
    assert saved == GymGestureProcessor.from_model_config(config).to_dict()


def test_model_folder_loads_with_trust_remote_code_in_a_fresh_process(dry_run, model_dir, tmp_path):
    from gym_gesture.inference.recognizer import load_model

    expected_model = load_model(model_dir)
    torch.manual_seed(1)
    config = expected_model.config
    keypoints = torch.randn(2, config.num_frames, config.num_joints, config.num_channels)
    with torch.no_grad():
        expected = expected_model(keypoints).logits

    loaded = load_in_fresh_process(dry_run[0] / "model", keypoints, tmp_path)
    assert loaded["module"].startswith("transformers_modules.") and not loaded["project_loaded"]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, rtol=1e-5, atol=1e-5)


def test_model_card_metadata_validates_and_carries_the_evaluation(dry_run, model_dir):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    folder, evaluation = dry_run
    card = ModelCard.load(folder / "model" / "README.md")
    data = card.data
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "video-classification"
    assert data.license and data.tags and data.datasets
    results = {(result.metric_name, result.metric_type): result for result in data.eval_results}
    assert results[("Window accuracy", "accuracy")].metric_value == pytest.approx(evaluation["window_accuracy"], abs=1e-4)
    assert results[("Clip macro F1", "f1")].metric_value == pytest.approx(evaluation["clip_macro_f1"], abs=1e-4)
    assert all(result.dataset_split == evaluation["split"] for result in data.eval_results)
    # The YAML's model-index parses back into the same results.
    name, parsed = model_index_to_eval_results(data.to_dict()["model-index"])
    assert name == "gym-gesture" and len(parsed) == len(data.eval_results)
    config = json.loads((model_dir / "config.json").read_text())
    for label in config["id2label"].values():
        assert f"`{label}`" in card.text
    assert f"{evaluation['clip_accuracy']:.3f}" in card.text
    assert "{{" not in card.text and "{%" not in card.text


def test_space_folder_is_a_gradio_space_that_finds_its_model(dry_run):
    from huggingface_hub import SpaceCard

    space = dry_run[0] / "space"
    data = SpaceCard.load(space / "README.md").data
    assert (data.sdk, data.app_file, data.python_version) == ("gradio", "app.py", "3.11")
    assert data.suggested_hardware == "cpu-basic" and data.models == ["someone/gym-gesture"]
    assert (space / "app.py").is_file() and (space / "gym_gesture" / "app" / "main.py").is_file()
    assert list((space / "gym_gesture" / "examples").glob("*.mp4"))
    requirements = (space / "requirements.txt").read_text()
    assert "gradio" in requirements and "mediapipe" in requirements
    # The model sits where the app looks by default, so the Space runs offline on it: the pushed model
    # folder (card included), with every per-model file the recognizer reads.
    model = space / DEFAULT_MODEL_DIR.relative_to(REPO_ROOT)
    assert sorted(path.name for path in model.parent.iterdir()) == [DEFAULT_MODEL_DIR.name]
    assert {"model.safetensors", "README.md", "calibration.json", FORM_MODEL_FILE, "preprocessor_config.json"} <= \
        {path.name for path in model.iterdir()}


SPACE_PREDICT = r"""
import json, sys
import gym_gesture
from gym_gesture.app.pool import RecognizerPool
from gym_gesture.pose import DEFAULT_BACKEND

prediction = RecognizerPool(None, max_duration=60).get(DEFAULT_BACKEND).predict(sys.argv[1])
print(json.dumps({"package": gym_gesture.__file__, "label": prediction.label,
                  "forms": [segment["form"] for segment in prediction.to_json()["segments"]]}))
"""


def test_space_folder_alone_predicts_with_form_feedback(dry_run, shared_data):
    """The Space's app path, run from the Space folder with nothing of the checkout importable."""
    space = dry_run[0] / "space"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", SPACE_PREDICT, str(shared_data / "videos" / "push_up_correct19.mp4")],
                            cwd=space, env=dict(env, PYTHONPATH=str(space)), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(answer["package"]).resolve().is_relative_to(space.resolve())
    assert answer["label"] == "push up"
    assert any(form and form["verdict"] for form in answer["forms"])



def test_gpu_space_carries_the_mmpose_installer_and_its_requirements(dry_run, tmp_path):
    space = build_space_folder(dry_run[0] / "model", tmp_path / "space", "someone/gym-gesture",
                               "someone/gym-gesture-demo", hardware="t4-small")
    assert "torchvision" in (space / "requirements.txt").read_text()  # the extra's pip part: at build time
    # The installer run with a stand-in Python that records its pip calls: all the files it names are there.
    calls = tmp_path / "calls.txt"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    python.chmod(0o755)
    subprocess.run(["bash", str(space / "install_mmpose.sh")], env=dict(os.environ, PYTHON=str(python)),
                   cwd=tmp_path, check=True)
    first, second = calls.read_text().splitlines()
    assert first.startswith("-m pip install") and first.endswith(
        f"-r {space}/requirements.txt -r {space}/requirements-mmpose.txt")
    assert "--no-deps --no-build-isolation" in second and second.endswith(f"-r {space}/requirements-mmpose-nodeps.txt")
    cpu_space = build_space_folder(dry_run[0] / "model", tmp_path / "cpu-space", "someone/gym-gesture",
                                   "someone/gym-gesture-demo")
    assert not (cpu_space / "install_mmpose.sh").exists()


def test_upload_without_a_token_is_a_clear_error(model_dir, tmp_path):
    result = _run(["--model-dir", model_dir, "--repo-id", "someone/gym-gesture"],
                  env={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "gym-gesture push: error: no Hugging Face token: set HF_TOKEN or run `hf auth login` "
        "(or use --dry-run OUT_DIR to only build the folders)"]


def test_not_a_model_folder_is_a_clear_error(tmp_path, capsys):
    assert push(["--model-dir", str(tmp_path), "--repo-id", "someone/gym-gesture", "--dry-run", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == f"gym-gesture push: error: {tmp_path}: no config.json; pass a folder saved with save_pretrained"
