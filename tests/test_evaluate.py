"""`gym-gesture evaluate`: metrics JSON, confusion matrices, unknown labels, the held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_poses import write_synthetic_npz

from gym_gesture.cli import main
from gym_gesture.evaluate import evaluate
from gym_gesture.train import load_pose_datasets


def test_evaluate_json_fields_and_confusion_png(trained_model, synthetic_npz, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--model", str(trained_model), "--data", str(synthetic_npz), "--split", "test",
                 "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    for key in ("window_accuracy", "window_macro_f1", "clip_accuracy", "clip_macro_f1", "num_windows", "num_clips",
                "per_class", "window_macro_precision", "window_macro_recall"):
        assert key in results, key
    test_sources = set(json.loads((trained_model / "split.json").read_text())["test"])
    dataset = load_pose_datasets(synthetic_npz)[0]
    assert results["num_clips"] == sum(source in test_sources for source in dataset["source_id"])
    assert set(results["per_class"]) == {"lateral raises", "russian twist", "squat"}
    assert sum(row["window_support"] for row in results["per_class"].values()) == results["num_windows"]
    assert np.sum(results["clip_confusion_matrix"]) == results["num_clips"]
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "lateral raises" in printed and f"clips: {results['num_clips']}" in printed


def test_whole_data_without_split(trained_model, synthetic_npz):
    results = evaluate(str(trained_model), synthetic_npz)
    assert results["num_clips"] == len(load_pose_datasets(synthetic_npz)[0])
    assert 0.0 <= results["window_accuracy"] <= 1.0


def test_unknown_labels_are_an_error_unless_ignored(trained_model, synthetic_npz, tmp_path, capsys):
    other = write_synthetic_npz(tmp_path / "with_unknown.npz", sources_per_class=2,
                                classes=("squat", "lateral raises"), seed=5)
    arrays = dict(np.load(other))
    arrays["plank/plank_1"] = arrays["squat/squat_1"]
    np.savez(other, **arrays)
    assert main(["evaluate", "--model", str(trained_model), "--data", str(other)]) == 1
    error = capsys.readouterr().err
    assert "Traceback" not in error
    last_line = error.strip().splitlines()[-1]  # after the weight-loading progress bar
    assert last_line.startswith("gym-gesture evaluate: error: labels not known to the model: plank")
    assert "--ignore-unknown" in last_line
    results = evaluate(str(trained_model), other, ignore_unknown=True)
    assert results["num_clips"] == len(arrays) - 1


def test_split_of_a_model_without_split_file_is_an_error(trained_model, synthetic_npz, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((trained_model / name).read_bytes())
    with pytest.raises(ValueError, match="split.json"):
        evaluate(str(bare), synthetic_npz, split="test")


from gym_gesture.inference import DEFAULT_MODEL_DIR as CHECKPOINT


def test_shipped_checkpoint_reproduces_its_held_out_figures(shared_data):
    """The committed evaluation of the shipped model is what the model gives on its held-out sources
    (the keypoint archives' part; plank and russian twist come from extracted clips)."""
    committed = json.loads((CHECKPOINT / "evaluation.json").read_text())
    assert committed["window_accuracy"] >= 0.97 and committed["split"] == "test"
    keypoints = shared_data / "keypoints"
    results = evaluate(str(CHECKPOINT), [keypoints / "gym5_mediapipe33.npz", keypoints / "pushup_form_mediapipe33.npz"],
                       split="test")
    assert set(results["labels"]) == {"bench press", "lat pulldown", "pull up", "push up", "squat"}
    for name, row in results["per_class"].items():
        expected = committed["per_class"][name]
        for key in ("window_support", "clip_support", "window_recall", "clip_recall"):
            assert row[key] == pytest.approx(expected[key], abs=1e-6), (name, key)
