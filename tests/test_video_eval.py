"""`gym-gesture evaluate-videos`: accuracy through `Recognizer.predict` on labeled videos."""

from __future__ import annotations

import json
import shutil

import pytest

from gym_gesture.cli import main
from gym_gesture.training.video_eval import evaluate_videos

from conftest import FIXTURES

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"
ROW_KEYS = {"file", "clip_id", "source_id", "split_part", "label", "known", "predicted", "score", "abstain",
            "seconds", "correct"}


def _tree(root, files: list[str]):
    """A class-folder tree of links to the fixture squat clip, one per "<class>/<file>" of `files`."""
    for relative in files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(SQUAT_CLIP)
    return root


def test_tree_counts_known_unknown_and_training_only_clips(gym7_recognizer, gym7_model_dir, tmp_path):
    recognizer, model_dir = gym7_recognizer, gym7_model_dir  # deadlift is a class it does not know
    tree = _tree(tmp_path, ["squat/squat_clip_1.mp4", "deadlift/other_1.mp4", "squat/fit3d_squat1.mp4"])
    result = evaluate_videos(model_dir, [tree], recognizer=recognizer, progress=False)
    assert (result["clips"], result["correct"], result["accuracy"], result["abstain_rate"]) == (1, 1, 1.0, 0.0)
    # The deadlift clip is a class the shipped model does not know: counted apart, never an error.
    assert result["unknown_class_clips"] == 1
    # It is a copy of the squat fixture, which the model names squat.
    assert result["unknown_class_named"] == {"squat": 1} and result["unknown_class_abstained"] == 0
    assert result["per_class"]["squat"] == {"clips": 1, "correct": 1, "abstained": 0}
    assert [excluded["file"] for excluded in result["excluded"]] == [str(tree / "squat/fit3d_squat1.mp4")]
    assert {row["clip_id"] for row in result["rows"]} == {"squat_clip_1", "other_1"}
    assert all(set(row) == ROW_KEYS for row in result["rows"])
    assert result["by_split_part"] == {"none": {"clips": 1, "correct": 1, "accuracy": 1.0,
                                                "top_label_accuracy": 1.0, "abstain_rate": 0.0}}


def test_split_keeps_the_held_out_sources_as_extract_names_them(gym7_recognizer, gym7_model_dir, tmp_path):
    recognizer, model_dir = gym7_recognizer, gym7_model_dir  # its split.json names these sources
    # In the shipped split.json the source "squat_0" is a test source and "squat_12" a training one; a video
    # file squat_0_2.mp4 is a clip of source squat_0, as in `gym-gesture extract`'s dataset.
    tree = _tree(tmp_path, ["squat/squat_0_2.mp4", "squat/squat_12.mp4"])
    result = evaluate_videos(model_dir, [tree], split="test", recognizer=recognizer, progress=False)
    assert [(row["clip_id"], row["source_id"], row["split_part"]) for row in result["rows"]] == [
        ("squat_0_2", "squat_0", "test")]
    with pytest.raises(ValueError, match="no video to evaluate"):
        evaluate_videos(model_dir, [tree], split="validation", recognizer=recognizer, progress=False)


def test_unreadable_video_is_reported_not_fatal(recognizer, model_dir, tmp_path):
    tree = _tree(tmp_path, ["squat/good_1.mp4"])
    (tree / "squat" / "broken_1.mp4").write_text("not a video\n")
    result = evaluate_videos(model_dir, [tree], recognizer=recognizer, progress=False)
    assert [row["clip_id"] for row in result["rows"]] == ["good_1"] and result["accuracy"] == 1.0
    assert [failure["file"] for failure in result["failed"]] == [str(tree / "squat" / "broken_1.mp4")]
    assert "not a readable video" in result["failed"][0]["error"]


def test_exercises_outside_the_22_are_refused_as_typos_unless_other_exercises(recognizer, model_dir, tmp_path):
    tree = _tree(tmp_path, ["squat/squat_clip_1.mp4", "face pull/pull_1.mp4"])
    with pytest.raises(ValueError, match="unknown exercise 'face pull'"):
        evaluate_videos(model_dir, [tree], recognizer=recognizer, progress=False)
    result = evaluate_videos(model_dir, [tree], recognizer=recognizer, other_exercises=True, progress=False)
    assert (result["clips"], result["unknown_class_clips"]) == (1, 1)
    assert [row["label"] for row in result["rows"] if not row["known"]] == ["face pull"]


def test_cli_reads_a_manifest_and_writes_json(tmp_path, capsys):
    (tmp_path / "clip_1.mp4").symlink_to(SQUAT_CLIP)
    (tmp_path / "manifest.json").write_text(json.dumps([{"file": "clip_1.mp4", "label": "squat"}]))
    out = tmp_path / "result.json"
    assert main(["evaluate-videos", str(tmp_path / "manifest.json"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "known classes: 1/1 right, accuracy 1.000" in printed
    assert json.loads(out.read_text())["rows"][0]["predicted"] == "squat"


def test_real_videos(recognizer, model_dir, shared_data, tmp_path):
    """Three real clips of ../shared/data/videos (two squats, one plank) through the deployed path."""
    videos = shared_data / "videos"
    chosen = ("squat_00.mp4", "squat_03.mp4", "plank_01.mp4")
    entries = [entry for entry in json.loads((videos / "manifest.json").read_text()) if entry["file"] in chosen]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{**entry, "file": str(videos / entry["file"])} for entry in entries]))
    result = evaluate_videos(model_dir, [manifest], recognizer=recognizer, progress=False)
    assert {"clips", "correct", "accuracy", "top_label_accuracy", "abstain_rate", "per_class", "by_split_part",
            "unknown_class_clips", "excluded", "failed", "rows"} <= set(result)
    assert result["clips"] == 3 and not result["failed"]
    assert result["accuracy"] == 1.0 and result["abstain_rate"] == 0.0, result["rows"]
    assert json.loads(json.dumps(result)) == result


def test_a_manifests_crop_is_the_view_predict_reads(recognizer, model_dir, shared_data, tmp_path):
    """A real split-screen clip (a cable lateral raise, front and side views side by side, 1064x300): each
    view the manifest crops is read alone, as `extract` reads it. The front view is a lateral raise to the
    default model; the whole frame, a person squeezed sideways, is a hammer curl (0.81), and so it was read
    for both views before evaluate-videos passed the crop on."""
    clip = str(shared_data / "clips22" / "lateral raises"
               / "yellownega_Plan-Master__Cable_Low_Single_Arm_Lateral_Raise.mp4")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"file": clip, "label": "lateral raises", "clip_id": "whole"},
                                    {"file": clip, "label": "lateral raises", "clip_id": "front",
                                     "crop": [0.0, 0.0, 0.5, 1.0]}]))
    result = evaluate_videos(model_dir, [manifest], recognizer=recognizer, progress=False)
    predicted = {row["clip_id"]: row["predicted"] for row in result["rows"]}
    assert predicted == {"front": "lateral raises", "whole": "hammer curl"}, result["rows"]
    with pytest.raises(ValueError, match="no crop with an observer"):
        recognizer.predict(clip, overlay_path=tmp_path / "overlay.mp4", crop=(0.0, 0.0, 0.5, 1.0))


def test_a_manifests_source_picks_the_split_part(recognizer, model_dir, shared_data, tmp_path):
    """The two views of a split-screen bench press share one source, a test source of the default model's
    split.json (as `extract` recorded it): both are test clips. Read from their clip ids ("...-left"), they
    were in no part, and `--split test` left them and every take filmed from two sides out."""
    from benchmarks.data_folds import manifest_views

    views = [view for view in manifest_views(shared_data / "clips22")
             if view["source_id"] == "yellownega_Plan-Master__bench_press"]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(views))
    result = evaluate_videos(model_dir, [manifest], split="test", recognizer=recognizer, progress=False)
    assert [(row["clip_id"], row["source_id"], row["split_part"]) for row in result["rows"]] == [
        (f"yellownega_Plan-Master__bench_press-{half}", "yellownega_Plan-Master__bench_press", "test")
        for half in ("left", "right")]


def test_split_needs_the_models_split_file(recognizer, model_dir, tmp_path):
    model_copy = tmp_path / "model"
    shutil.copytree(model_dir, model_copy, ignore=shutil.ignore_patterns("split.json"))
    tree = _tree(tmp_path / "videos", ["squat/clip_1.mp4"])
    with pytest.raises(ValueError, match="no 'test' part in a split.json"):
        evaluate_videos(model_copy, [tree], split="test", recognizer=recognizer, progress=False)
