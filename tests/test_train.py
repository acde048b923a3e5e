"""Training with transformers' Trainer: learns a real signal, saves labels and split, resumes, fine-tunes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from synthetic_poses import write_synthetic_npz
from transformers import TrainerCallback

from gym_gesture import train as training
from gym_gesture.cli import main
from gym_gesture.evaluate import evaluate
from gym_gesture.modeling_gym_gesture import GymGestureForSequenceClassification

SMALL = {"d_model": 32, "ffn_dim": 64, "num_frames": 30}


def test_learns_the_synthetic_classes_and_saves_labels_and_split(trained_model, synthetic_npz):
    model = GymGestureForSequenceClassification.from_pretrained(trained_model)
    assert list(model.config.id2label.values()) == ["lateral raises", "russian twist", "squat"]  # canonical order
    assert (model.config.num_frames, model.config.layout, model.config.normalization) == (30, "h36m17",
                                                                                            "hip_center_torso_scale")
    split = json.loads((trained_model / "split.json").read_text())
    assert set(split) == {"train", "validation", "test"} and all(split.values())
    summary = json.loads((trained_model / "training.json").read_text())
    assert summary["validation"]["accuracy"] >= 0.9
    results = evaluate(str(trained_model), synthetic_npz, split="test")
    assert results["window_accuracy"] >= 0.9 and results["clip_accuracy"] >= 0.9


class _Interrupt(TrainerCallback):
    """Stops the process like Ctrl-C right after the checkpoint of epoch `after` is written."""

    def __init__(self, after: int):
        self.after = after

    def on_save(self, args, state, control, **kwargs):
        if state.epoch >= self.after:
            raise KeyboardInterrupt


def test_resume_continues_an_interrupted_run(synthetic_npz, tmp_path, monkeypatch):
    options = training.TrainingOptions(epochs=4, patience=10, batch_size=64, model=SMALL)
    import transformers  # train() imports Trainer from it when called

    class InterruptedTrainer(transformers.Trainer):
        def __init__(self, *args, callbacks=None, **kwargs):
            super().__init__(*args, callbacks=[*(callbacks or []), _Interrupt(after=2)], **kwargs)

    monkeypatch.setattr(transformers, "Trainer", InterruptedTrainer)
    with pytest.raises(KeyboardInterrupt):
        training.train(synthetic_npz, tmp_path, options)
    monkeypatch.undo()
    checkpoints = sorted(tmp_path.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    interrupted_at = json.loads((checkpoints[-1] / "trainer_state.json").read_text())
    assert interrupted_at["epoch"] == 2 and not (tmp_path / "model.safetensors").exists()
    split_before = (tmp_path / "split.json").read_text()

    summary = training.train(synthetic_npz, tmp_path, training.TrainingOptions(**{**vars(options), "resume": True}))
    final = json.loads((sorted(tmp_path.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))[-1]
                        / "trainer_state.json").read_text())
    assert final["epoch"] == 4 and final["global_step"] == 2 * interrupted_at["global_step"]
    # the first two epochs were not run again: one evaluation per epoch in the history
    assert [entry["epoch"] for entry in final["log_history"] if "eval_loss" in entry] == [1, 2, 3, 4]
    assert summary["epochs_run"] == 4 and (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "split.json").read_text() == split_before


def test_resume_without_checkpoint_is_a_clear_error(synthetic_npz, tmp_path, capsys):
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--resume"]) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_init_from_with_other_labels_keeps_the_fusion_and_resets_the_head(trained_model, tmp_path, caplog):
    two_classes = write_synthetic_npz(tmp_path / "two.npz", sources_per_class=6, classes=("squat", "russian twist"),
                                      seed=1)
    before = GymGestureForSequenceClassification.from_pretrained(trained_model).state_dict()
    model = training.build_model(["russian twist", "squat"], training.TrainingOptions(init_from=str(trained_model)))
    after = model.state_dict()
    assert model.config.id2label == {0: "russian twist", 1: "squat"} and after["classifier.weight"].shape[0] == 2
    for name, value in after.items():
        if not name.startswith("classifier."):
            assert torch.equal(value, before[name]), name
    assert "re-initialised" in caplog.text

    summary = training.train(two_classes, tmp_path / "fine-tuned",
                             training.TrainingOptions(epochs=2, init_from=str(trained_model)))
    assert summary["labels"] == ["russian twist", "squat"]
    assert summary["parameters"] == sum(value.numel() for value in after.values())


def test_init_from_same_labels_continues(trained_model):
    model = training.build_model(["lateral raises", "russian twist", "squat"],
                                 training.TrainingOptions(init_from=str(trained_model)))
    saved = GymGestureForSequenceClassification.from_pretrained(trained_model).state_dict()
    assert all(torch.equal(value, saved[name]) for name, value in model.state_dict().items())


def test_init_from_another_joint_layout_is_a_clear_error(trained_model):
    options = training.TrainingOptions(init_from=str(trained_model), model={"layout": "coco17", "num_joints": 17})
    with pytest.raises(ValueError, match="layout"):
        training.build_model(["squat"], options)


def test_train_cli_on_npz(synthetic_npz, tmp_path, capsys):
    code = main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--epochs", "2",
                 "--fusion", "lstm", "--d-model", "16", "--num-frames", "30", "--undersample"])
    assert code == 0
    assert json.loads((tmp_path / "config.json").read_text())["fusion"] == "lstm"
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["options"]["undersample"] and summary["epochs_run"] == 2
    assert np.allclose(summary["class_weights"], 1.0)  # undersampled: every class equally frequent


def test_compare_writes_the_table_for_each_fusion(synthetic_npz, tmp_path, capsys):
    results = tmp_path / "results" / "compare"
    assert main(["compare", "--data", str(synthetic_npz), "--output-dir", str(tmp_path / "runs"), "--results",
                 str(results), "--fusions", "transformer", "bilstm", "--epochs", "2", "--d-model", "16",
                 "--num-frames", "30"]) == 0
    table = results.with_suffix(".md").read_text()
    assert "| Fusion | Recall | Precision | F1 | Accuracy |" in table
    rows = json.loads(results.with_suffix(".json").read_text())["rows"]
    assert [row["fusion"] for row in rows] == ["transformer", "bilstm"]
    for row in rows:
        assert row["parameters"] > 0 and row["training_seconds"] > 0 and 0 <= row["window_accuracy"] <= 1
        assert f"| {row['fusion']} | {row['window_macro_recall']:.4f} |" in table
    splits = [json.loads((tmp_path / "runs" / fusion / "split.json").read_text()) for fusion in ("transformer", "bilstm")]
    assert splits[0] == splits[1]  # one split for every fusion
