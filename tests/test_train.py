"""Training with transformers' Trainer: learns a real signal, saves labels and split, resumes, fine-tunes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, free_port
from synthetic_poses import write_synthetic_npz
from transformers import TrainerCallback

from gym_gesture.data import windows as window_data
from gym_gesture.training import train as training
from gym_gesture.cli import main
from gym_gesture.data.windows import load_pose_datasets
from gym_gesture.core.errors import InputError
from gym_gesture.training.evaluate import evaluate
from gym_gesture.inference.recognizer import load_model
from gym_gesture.model.modeling_gym_gesture import GymGestureForSequenceClassification
from gym_gesture.core.paths import RECIPE_FILE, RECIPES_DIR
from gym_gesture.training.recipe import DEFAULT_RECIPE, read_recipe

GYM7_RECIPE = RECIPES_DIR / "gym7-transformer.json"

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


def test_training_options_out_of_range_are_clear_errors(synthetic_npz, tmp_path, capsys):
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path),
                 "--synthetic-outliers", "0.25"]) == 1
    assert "set outlier_exposure too" in capsys.readouterr().err
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--augment-aspect", "0.5"]) == 1
    assert "augment_aspect is the largest stretch of x against y, at least 1: got 0.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse refuses a layout no model reads
        main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--layout", "coco17"])
    assert "invalid choice: 'coco17'" in capsys.readouterr().err


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


def test_split_from_reuses_another_models_split_whatever_the_seed(trained_model, synthetic_npz, tmp_path):
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--epochs", "1",
                 "--d-model", "16", "--num-frames", "30", "--seed", "1", "--split-from", str(trained_model)]) == 0
    split = json.loads((tmp_path / "split.json").read_text())
    assert split == json.loads((trained_model / "split.json").read_text())
    assert split != training.split_datasets(load_pose_datasets(synthetic_npz), training.TrainingOptions(seed=1))


def test_compare_runs_each_fusions_seeds_on_one_split_and_resumes(synthetic_npz, tmp_path, monkeypatch):
    windowed = []
    windows_from_dataset = window_data.windows_from_dataset
    monkeypatch.setattr(window_data, "windows_from_dataset",
                        lambda *args, **kwargs: windowed.append(args[0]) or windows_from_dataset(*args, **kwargs))
    results, runs = tmp_path / "results" / "compare", tmp_path / "runs"
    arguments = ["compare", "--data", str(synthetic_npz), "--output-dir", str(runs), "--results", str(results),
                 "--fusions", "transformer:0,1", "stgcn", "--seeds", "3", "--epochs", "2", "--d-model", "16",
                 "--num-frames", "30", "--threads", "1"]
    assert main(arguments) == 0
    report = json.loads(results.with_suffix(".json").read_text())["by_source"]
    assert [(run["fusion"], run["seed"]) for run in report["runs"]] == [("transformer", 0), ("transformer", 1),
                                                                       ("stgcn", 3)]
    for run in report["runs"]:
        run_dir = runs / "by-source" / run["fusion"] / f"seed{run['seed']}"
        assert run["parameters"] == sum(p.numel() for p in load_model(str(run_dir)).parameters())
        for part in ("validation", "test"):  # the figures are those of the run's own evaluation files
            evaluated = json.loads((run_dir / f"{part}.json").read_text())
            assert run[f"{part}_clip_macro_f1"] == evaluated["clip_macro_f1"]
            assert run[f"{part}_clip_accuracy"] == evaluated["clip_accuracy"]
    transformer = report["summary"][0]
    accuracies = [run["test_clip_accuracy"] for run in report["runs"] if run["fusion"] == "transformer"]
    assert transformer["seeds"] == [0, 1] and transformer["test_clip_accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert transformer["test_clip_accuracy"]["min"] == min(accuracies)
    splits = [json.loads((runs / "by-source" / fusion / seed / "split.json").read_text())
              for fusion, seed in (("transformer", "seed0"), ("transformer", "seed1"), ("stgcn", "seed3"))]
    assert splits[0] == splits[1] == splits[2]  # one split for every fusion and seed
    assert splits[0] == report["split"]
    assert len(windowed) == 1  # the data windowed once for every run
    table = results.with_suffix(".md").read_text()
    assert "## Split by source video" in table and "| stgcn | 3 |" in table

    # A rerun skips finished runs; the split by window is a section of its own beside the split by source.
    from gym_gesture.training import compare as comparison

    trained = []
    monkeypatch.setattr(comparison, "train", lambda *args, **kwargs: trained.append(args[1]) or train(*args, **kwargs))
    train = training.train
    assert main(arguments) == 0 and trained == []
    fusions = arguments.index("--fusions")
    assert main([*arguments[:fusions], "--fusions", "cnn1d", "--split-by", "window",
                 *arguments[fusions + 5:]]) == 0
    assert len(trained) == 1
    report = json.loads(results.with_suffix(".json").read_text())
    assert len(report["by_source"]["runs"]) == 3
    window = report["by_window"]["runs"][0]
    assert window["fusion"] == "cnn1d" and "test_clip_accuracy" not in window
    assert 0 <= window["test_window_accuracy"] <= 1 and window["test_windows"] > 0
    assert report["by_window"]["split"]["by"] == "window"
    assert "## Split by window" in results.with_suffix(".md").read_text()


class _RecordingHubApi:
    """huggingface_hub.HfApi at the network boundary (no Hub here): records what would be pushed."""

    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, repo_type, folder_path, commit_message):
        files = {path.relative_to(folder_path).as_posix(): path.read_bytes()
                 for path in Path(folder_path).rglob("*") if path.is_file()}
        self.calls.append(("upload_folder", repo_id, {"repo_type": repo_type, "files": files}))
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/0"})()


def test_push_to_hub_uploads_the_model_folder_with_its_card(synthetic_npz, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    _RecordingHubApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", _RecordingHubApi)
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path), "--epochs", "2",
                 "--d-model", "16", "--num-frames", "30", "--push-to-hub", "someone/my-gym-model"]) == 0
    assert "pushed to the Hub: https://huggingface.co/someone/my-gym-model/commit/0" in capsys.readouterr().out
    (create, repo_id, options), (upload, upload_repo, pushed) = _RecordingHubApi.calls
    assert (create, repo_id, options["repo_type"], upload, upload_repo) == (
        "create_repo", "someone/my-gym-model", "model", "upload_folder", "someone/my-gym-model")
    files = pushed["files"]
    assert {"config.json", "model.safetensors", "configuration_gym_gesture.py", "modeling_gym_gesture.py",
            "README.md", "training.json", "split.json"} <= set(files)
    assert not [name for name in files if name.startswith("checkpoint-") or name.endswith(".bin")]
    assert files["model.safetensors"] == (tmp_path / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    assert "someone/my-gym-model" in card and "lateral raises" in card


LAUNCHERS = {
    "torchrun": ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "{port}"],
    "accelerate": ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "{port}"],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_distributed_launch_trains_one_model_over_two_processes(launcher, synthetic_npz, tmp_path):
    """Two CPU processes (gloo), as several GPUs would run it: the data is sharded, one model is saved."""
    epochs, batch_size = 2, 32
    command = [sys.executable, *(arg.format(port=free_port()) for arg in LAUNCHERS[launcher]),
               "-m", "gym_gesture", "train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path),
               "--epochs", str(epochs), "--batch-size", str(batch_size), "--d-model", "16", "--num-frames", "30"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("best model saved in") == 1  # rank 0 reports
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["world_size"] == 2
    steps_per_epoch = math.ceil(summary["num_train_windows"] / (2 * batch_size))  # each process takes half
    last = max(tmp_path.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    assert json.loads((last / "trainer_state.json").read_text())["global_step"] == epochs * steps_per_epoch
    split = json.loads((tmp_path / "split.json").read_text())
    datasets = load_pose_datasets(synthetic_npz)
    assert split == training.split_datasets(datasets, training.TrainingOptions())
    model = GymGestureForSequenceClassification.from_pretrained(tmp_path)
    assert model(torch.zeros(1, 30, 17, 3)).logits.shape == (1, 3)


def test_the_committed_recipe_is_the_shipped_checkpoints():
    from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR

    recorded = json.loads((DEFAULT_MODEL_DIR / "training.json").read_text())["options"]
    recipe = read_recipe(DEFAULT_RECIPE)
    assert {**recipe, "model": None} == {**recorded, "model": None}
    # The model options are the checkpoint's config (the recipe also names its geometry, num_channels,
    # which training.json predates).
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert recorded["model"].items() <= recipe["model"].items()
    assert recipe["model"] == {name: config[name] for name in recipe["model"]}


def _cli_options(*argv):
    from gym_gesture.cli import build_parser
    from gym_gesture.cli.training import _training_options

    return _training_options(build_parser().parse_args(["train", "--data", "x.npz", "--output-dir", "out", *argv]))


def test_command_line_options_override_the_recipe():
    recipe = read_recipe(GYM7_RECIPE)
    assert _cli_options("--recipe", str(GYM7_RECIPE)) == training.TrainingOptions(**recipe)
    options = _cli_options("--recipe", str(GYM7_RECIPE), "--seed", "3", "--d-model", "32", "--no-augment")
    assert (options.seed, options.augment, options.epochs) == (3, False, recipe["epochs"])
    assert options.model == {**recipe["model"], "d_model": 32, "ffn_dim": 64}  # the rest is the recipe's
    # The 22-class recipe is the 7-class one on x, y only with outlier exposure: the same flags give the same options.
    xy = _cli_options("--recipe", str(GYM7_RECIPE), "--num-channels", "2", "--outlier-exposure", "0.5")
    assert xy == training.TrainingOptions(**read_recipe(GYM7_RECIPE.with_name("gym22-transformer.json")))
    # Neither given: one set of defaults, TrainingOptions' and (for the model) GymGestureConfig's.
    assert _cli_options() == training.TrainingOptions()


def test_unknown_recipe_option_is_a_clear_error(tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"epochs": 1, "learnig_rate": 0.1}))
    assert main(["train", "--data", "x.npz", "--output-dir", str(tmp_path), "--recipe", str(recipe)]) == 1
    assert "unknown recipe option(s) learnig_rate" in capsys.readouterr().err


def test_a_model_folder_records_the_recipe_it_was_trained_with(synthetic_npz, tmp_path):
    tiny = {"epochs": 1, "batch_size": 64, "threads": 1,
            "model": {"d_model": 16, "num_layers": 1, "num_heads": 2, "ffn_dim": 24, "dropout": 0.0, "num_frames": 30,
                      "sample_fps": 30.0, "window_stride": 15}}
    (tmp_path / "tiny.json").write_text(json.dumps(tiny))
    assert main(["train", "--data", str(synthetic_npz), "--output-dir", str(tmp_path / "model"),
                 "--recipe", str(tmp_path / "tiny.json"), "--seed", "2"]) == 0
    recorded = json.loads((tmp_path / "model" / RECIPE_FILE).read_text())
    defaults = {name: value for name, value in asdict(training.TrainingOptions()).items() if name != "resume"}
    assert recorded == {**defaults, **tiny, "seed": 2,
                        "model": {**tiny["model"], "num_channels": 3, "image_scale": "frame_axes", "layout": "h36m17"}}
    assert json.loads((tmp_path / "model" / "training.json").read_text())["options"] == recorded


def test_a_model_in_the_hands_and_feet_layout_trains_and_reads_mediapipes_hand_points(shared_data, tmp_path):
    """`train --layout h36m17_hands_feet` on real MediaPipe poses (gym5): the model reads 25 joints, the
    recipe says so, and predict's windows carry the hands MediaPipe saw, not the wrists standing in for them."""
    from gym_gesture.data.windows import windows_from_sequence
    from gym_gesture.inference.recognizer import Recognizer

    from gym_gesture.model.skeleton import get_layout

    archive = shared_data / "keypoints" / "gym5_mediapipe33.npz"
    tiny = {"d_model": 16, "num_layers": 1, "num_heads": 2, "ffn_dim": 24, "num_frames": 30, "sample_fps": 10.0,
            "window_stride": 15, "num_channels": 2}
    (tmp_path / "tiny.json").write_text(json.dumps({"epochs": 1, "batch_size": 256, "threads": 1, "model": tiny}))
    assert main(["train", "--data", str(archive), "--output-dir", str(tmp_path / "model"), "--recipe",
                 str(tmp_path / "tiny.json"), "--layout", "h36m17_hands_feet"]) == 0
    recognizer = Recognizer.from_pretrained(tmp_path / "model", backend=None)
    assert (recognizer.config.layout, recognizer.config.num_joints) == ("h36m17_hands_feet", 25)
    assert json.loads((tmp_path / "model" / RECIPE_FILE).read_text())["model"]["layout"] == "h36m17_hands_feet"
    squat = load_pose_datasets(archive)[0].filter(lambda label: label == "squat", input_columns="label")[0]
    keypoints = np.asarray(squat["keypoints"], np.float32)
    windows = windows_from_sequence(keypoints, squat["layout"], squat["fps"], recognizer.config)
    assert windows.keypoints.shape[2:] == (25, 2)
    index = get_layout("h36m17_hands_feet").index
    hand = np.linalg.norm(windows.keypoints[..., index["left_index"], :] - windows.keypoints[..., index["left_wrist"], :], axis=-1)
    assert np.median(hand[windows.attention_mask.astype(bool)]) > 0.05  # in torso lengths
    result = recognizer.recognize_sequence(keypoints, squat["layout"], squat["fps"], np.isfinite(keypoints).all((1, 2)))
    assert result.probabilities.shape == (len(windows), 5)



def test_excluded_spans_leave_windows_out_of_training_but_not_of_validation(synthetic_npz, tmp_path):
    tiny = {"d_model": 16, "num_layers": 1, "num_heads": 2, "ffn_dim": 24, "num_frames": 30, "window_stride": 15}
    datasets = load_pose_datasets(synthetic_npz)
    split = training.split_datasets(datasets, training.TrainingOptions())
    config = training.build_model(training.dataset_labels(datasets), training.TrainingOptions(model=tiny)).config
    windows, clips = window_data.windows_from_datasets(datasets, config)
    clip_sources = dict(zip(clips.clip_ids, clips.source_ids))
    train_clip, validation_clip = (next(clip for clip, source in clip_sources.items() if source in split[part])
                                   for part in ("train", "validation"))
    whole = [[0, 1000]]
    summaries = [training.train(synthetic_npz, tmp_path / name, training.TrainingOptions(
        epochs=1, batch_size=64, threads=1, model=tiny, excluded_spans=spans))
        for name, spans in (("all", {}), ("excluded", {train_clip: whole, validation_clip: whole}))]
    train_clip_windows = int((np.asarray(clips.clip_ids)[windows.clip_index] == train_clip).sum())
    assert train_clip_windows and summaries[1]["num_excluded_windows"] == train_clip_windows
    assert summaries[1]["num_train_windows"] == summaries[0]["num_train_windows"] - train_clip_windows
    assert summaries[1]["num_validation_windows"] == summaries[0]["num_validation_windows"]
    assert json.loads((tmp_path / "excluded" / RECIPE_FILE).read_text())["excluded_spans"] == {
        train_clip: whole, validation_clip: whole}
    every_training_clip = {clip: whole for clip, source in clip_sources.items() if source in split["train"]}
    with pytest.raises(InputError, match="leave the training split no window"):
        training.train(synthetic_npz, tmp_path / "none", training.TrainingOptions(
            epochs=1, model=tiny, excluded_spans=every_training_clip))


def _with_outlier_class(path: Path) -> Path:
    """Synthetic squats and lateral raises, and twists relabelled "jumping jacks": a class outside the 22's
    labels of this data, so an outlier."""
    write_synthetic_npz(path, sources_per_class=8)
    arrays = {key.replace("russian twist/", "jumping jacks/"): value for key, value in np.load(path).items()}
    np.savez(path, **arrays)
    return path


def test_outlier_exposure_spreads_the_probability_on_exercises_outside_the_labels(tmp_path):
    from dataclasses import replace

    from gym_gesture.inference.recognizer import Recognizer

    data = _with_outlier_class(tmp_path / "with_outliers.npz")
    options = training.TrainingOptions(epochs=15, patience=15, batch_size=32, seed=0, threads=1, model=SMALL,
                                       outlier_exposure=1.0)
    exposed = training.train(data, tmp_path / "exposed", options)
    plain = training.train(data, tmp_path / "plain", replace(options, outlier_exposure=0.0))
    assert exposed["labels"] == plain["labels"] == ["lateral raises", "squat"]
    assert plain["num_outlier_windows"] == 0 < exposed["num_outlier_windows"]

    # The outliers' sources are split like the others: their held-out parts are what evaluate reports.
    split = json.loads((tmp_path / "exposed" / "split.json").read_text())
    dataset = load_pose_datasets(data)[0]
    outlier_sources = {source for label, source in zip(dataset["label"], dataset["source_id"]) if label == "jumping jacks"}
    assert all(outlier_sources & set(split[part]) for part in ("train", "validation", "test"))
    results = evaluate(str(tmp_path / "exposed"), data, split="test")
    assert results["unknown_clips"] == sum(label == "jumping jacks" and source in split["test"]
                                           for label, source in zip(dataset["label"], dataset["source_id"]))

    def top_probability_on_held_out_outliers(model_dir) -> float:
        recognizer = Recognizer.from_pretrained(model_dir, backend=None)
        held_out = dataset.filter(lambda label, source: label == "jumping jacks" and source not in split["train"],
                                  input_columns=["label", "source_id"]).with_format("numpy")
        return float(np.mean([recognizer.recognize_sequence(row["keypoints"], str(row["layout"]), float(row["fps"]),
                                                            row["detected"]).clip_scores.max() for row in held_out]))

    # Exposed, the two-class model is near uniform (0.5) on held-out outliers (0.554 at this seed); without
    # outliers it leans to one of its classes (0.656).
    exposed_top, plain_top = map(top_probability_on_held_out_outliers, (tmp_path / "exposed", tmp_path / "plain"))
    assert exposed_top < 0.6 and plain_top > exposed_top + 0.08
