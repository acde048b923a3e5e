"""A saved folder loads in a fresh process where only torch and transformers are importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from gym_gesture import GymGestureConfig, GymGestureForSequenceClassification

LOADER = r"""
import importlib.abc, json, sys

class BlockProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "gym_gesture" or name.startswith("gym_gesture."):
            raise ImportError("the project must not be importable here")

sys.meta_path.insert(0, BlockProject())
import torch
from transformers import AutoModel

folder, inputs = sys.argv[1], sys.argv[2]
model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
keypoints = torch.load(inputs, weights_only=True)
with torch.no_grad():
    logits = model(keypoints).logits
print(json.dumps({
    "class": type(model).__name__,
    "module": type(model).__module__,
    "logits": logits.tolist(),
    "labels": [model.config.id2label[i] for i in logits.argmax(-1).tolist()],
    "project_loaded": any(m.startswith("gym_gesture") for m in sys.modules),
}))
"""


def load_in_fresh_process(folder, keypoints: torch.Tensor, tmp_path) -> dict:
    """Run LOADER on `folder` in a new interpreter with the project blocked; its JSON answer."""
    torch.save(keypoints, tmp_path / "inputs.pt")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), str(tmp_path / "inputs.pt")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
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

    loaded = load_in_fresh_process(folder, keypoints, tmp_path)
    assert loaded["class"] == "GymGestureForSequenceClassification"
    assert loaded["module"].startswith("transformers_modules.")  # the copied remote code, not the package
    assert not loaded["project_loaded"]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, rtol=1e-5, atol=1e-6)
    assert loaded["labels"] == [config.id2label[i] for i in expected.argmax(-1).tolist()]


def test_shipped_checkpoint_carries_the_package_model_code():
    """The code files saved beside the shipped weights are the package's own, byte for byte."""
    from gym_gesture.inference import DEFAULT_MODEL_DIR

    package = Path(__file__).resolve().parents[1] / "gym_gesture"
    for name in ("configuration_gym_gesture.py", "modeling_gym_gesture.py"):
        assert (DEFAULT_MODEL_DIR / name).read_bytes() == (package / name).read_bytes(), name
