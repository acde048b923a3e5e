"""`gym-gesture extract` and `import-keypoints`: dataset schema, resume, bad files, parallel workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gym_gesture.cli import main
from gym_gesture.data.dataset import load_pose_dataset
from gym_gesture.data.clips import find_clips
from gym_gesture.data.extract import WORK_DIR, extract_dataset
from gym_gesture.pose import DEFAULT_BACKEND
from gym_gesture.pose.sequence import extract_clip
from gym_gesture.pose.video import VideoWriter, read_frames

from conftest import FIXTURES, REPO_ROOT

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"


@pytest.fixture(scope="module")
def video_tree(tmp_path_factory):
    """A small class-folder tree of real footage (cut from the fixture clip) plus three broken files."""
    root = tmp_path_factory.mktemp("videos")
    (root / "Squats").mkdir()
    (root / "push-up").mkdir()
    shutil.copy(SQUAT_CLIP, root / "Squats" / "squat_1.mp4")
    frames = [frame.image for frame in read_frames(SQUAT_CLIP)]
    for name, part in (("squat_2_1.mp4", frames[:30]), ("squat_2_2.mp4", frames[40:70])):
        with VideoWriter(root / "Squats" / name, fps=30) as writer:
            for image in part:
                writer.write(image)
    (root / "push-up" / "empty_1.mp4").write_bytes(b"")
    (root / "push-up" / "notes_1.mp4").write_text("not a video\n")
    (root / "push-up" / "cut_1.mp4").write_bytes(SQUAT_CLIP.read_bytes()[:30000])
    (root / "push-up" / "readme.txt").write_text("ignored: not a video file\n")
    return root


BROKEN = {"empty_1.mp4": "empty file", "notes_1.mp4": "not a readable video", "cut_1.mp4": "truncated video"}


def _arrow_bytes(dataset_dir):
    return [path.read_bytes() for path in sorted(dataset_dir.glob("data-*.arrow"))]


@pytest.fixture(scope="module")
def uninterrupted(video_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "dataset"
    assert main(["extract", str(video_tree), "--out", str(out)]) == 0
    return out


def test_find_clips_maps_class_folders(video_tree, tmp_path):
    clips = find_clips(video_tree)
    assert [(clip.label, clip.clip_id) for clip in clips] == [
        ("push up", "cut_1"), ("push up", "empty_1"), ("push up", "notes_1"),
        ("squat", "squat_1"), ("squat", "squat_2_1"), ("squat", "squat_2_2")]
    for folder in ("squat", "push up"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip_1.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="two videos share the clip id 'clip_1'"):
        find_clips(tmp_path)


def test_find_clips_reads_a_manifest(tmp_path):
    """A flat folder of videos with a manifest.json (like ../shared/data/videos), or the manifest itself."""
    for name in ("Squat_00.mp4", "pushup_1.avi"):
        (tmp_path / name).write_bytes(b"")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"file": "pushup_1.avi", "label": "Push-up", "source": "x"},
                                    {"file": "Squat_00.mp4", "label": "squat"}]))
    expected = [("squat", "Squat_00", tmp_path / "Squat_00.mp4"), ("push up", "pushup_1", tmp_path / "pushup_1.avi")]
    for given in (tmp_path, manifest):
        assert [(clip.label, clip.clip_id, clip.path) for clip in find_clips(given)] == expected
    manifest.write_text(json.dumps([{"file": "Squat_00.mp4"}]))
    with pytest.raises(ValueError, match="not a list of"):
        find_clips(manifest)


def test_a_manifest_crops_a_split_screen_clip_into_views_of_one_source(tmp_path, mediapipe_pose):
    """Two views side by side in one frame (as clips22's split-screen clips): each manifest entry keeps one
    half, under its own clip id, and both halves are one source, so no split puts them on both sides."""
    frames = [frame.image for frame in read_frames(SQUAT_CLIP)]
    with VideoWriter(tmp_path / "two_views.mp4", fps=30) as writer:
        for image in frames:
            writer.write(np.concatenate([image, image[:, ::-1]], axis=1))
    (tmp_path / "manifest.json").write_text(json.dumps([
        {"file": "two_views.mp4", "label": "squat", "clip_id": "two_views-left", "source_id": "take_1",
         "crop": [0, 0, 0.5, 1]},
        {"file": "two_views.mp4", "label": "squat", "clip_id": "two_views-right", "source_id": "take_1",
         "crop": [0.5, 0, 1, 1]}]))
    out = tmp_path / "dataset"
    extract_dataset(tmp_path, out, fps=10, progress=False)
    dataset = load_pose_dataset(out).with_format("numpy")
    assert list(dataset["clip_id"]) == ["two_views-left", "two_views-right"]
    assert list(dataset["source_id"]) == ["take_1", "take_1"]
    assert set(dataset["width"]) == {320} and set(dataset["height"]) == {180}
    # The left half is the original clip: its poses are those of the clip itself (re-encoded, so close).
    direct = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=10)
    left = dataset[0]["keypoints"]
    assert left.shape == direct.keypoints.shape and dataset[0]["detected"].mean() >= 0.9
    assert np.nanmean(np.abs(left[..., :2] - direct.keypoints[..., :2])) < 0.02
    (tmp_path / "manifest.json").write_text(json.dumps([{"file": "two_views.mp4", "label": "squat",
                                                          "crop": [0.5, 0, 0.5, 1]}]))
    with pytest.raises(ValueError, match=r"crop \[0.5, 0, 0.5, 1\] is not \[left, top, right, bottom\]"):
        find_clips(tmp_path / "manifest.json")


def test_dataset_schema_and_contents(uninterrupted, mediapipe_pose):
    dataset = load_pose_dataset(uninterrupted).with_format("numpy")
    assert list(dataset["clip_id"]) == ["squat_1", "squat_2_1", "squat_2_2"]
    assert set(dataset["label"]) == {"squat"}
    assert list(dataset["source_id"]) == ["squat_1", "squat_2", "squat_2"]
    assert set(dataset["backend"]) == {DEFAULT_BACKEND} and set(dataset["layout"]) == {"mediapipe33"}
    assert set(dataset["width"]) == {320} and set(dataset["height"]) == {180}
    assert set(dataset["fps"]) == {30.0}
    row = dataset[0]
    assert row["keypoints"].shape == (75, 33, 3) and row["scores"].shape == (75, 33)
    assert row["detected"].mean() >= 0.9
    assert len(dataset[1]["detected"]) == 30
    # The stored series is exactly what extract_clip gives for that video.
    direct = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=30)
    np.testing.assert_array_equal(row["keypoints"], direct.keypoints)
    np.testing.assert_array_equal(row["detected"], direct.detected)
    assert not (uninterrupted / WORK_DIR).exists()


def test_source_per_clip_makes_every_clip_its_own_source(video_tree, tmp_path):
    """Unrelated clips (like clips22) are each their own source for splits; by default squat_2_1 and
    squat_2_2 are parts of one source video."""
    out = tmp_path / "dataset"
    assert main(["extract", str(video_tree), "--out", str(out), "--source-per-clip"]) == 0  # broken clips: reported
    dataset = load_pose_dataset(out)
    assert list(dataset["source_id"]) == list(dataset["clip_id"]) == ["squat_1", "squat_2_1", "squat_2_2"]


def test_broken_videos_reported_and_skipped(uninterrupted, video_tree, capsys):
    report = json.loads((uninterrupted / "extract_report.json").read_text())
    assert report["clips"] == 3 and report["complete"]
    failed = {entry["path"].rsplit("/", 1)[1]: entry["error"] for entry in report["failed"]}
    assert failed.keys() == BROKEN.keys()
    for name, message in BROKEN.items():
        assert message in failed[name]
        assert str(video_tree / "push-up" / name) in failed[name]


def test_limit_stops_without_writing_the_dataset(video_tree, tmp_path):
    out = tmp_path / "dataset"
    # The first 3 clips in id order are the broken ones.
    report = extract_dataset(video_tree, out, limit=3, progress=False)
    assert not report["complete"] and report["clips"] == 0 and len(report["failed"]) == 3
    assert not list(out.glob("data-*.arrow")) and (out / WORK_DIR).is_dir()


def test_resume_after_interruption_gives_identical_dataset(uninterrupted, video_tree, tmp_path):
    out = tmp_path / "dataset"
    command = [sys.executable, "-m", "gym_gesture", "extract", str(video_tree), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # Ctrl-C as soon as the first clip is finished (SIGINT reset to default: we may run in the background).
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list((out / WORK_DIR).glob("*.npz")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130 and "interrupted" in stderr
    finished = sorted(path.name for path in (out / WORK_DIR).glob("*.npz"))
    assert 1 <= len(finished) < 3 and not list(out.glob("data-*.arrow"))
    # A half-written clip from the moment of an interruption is never mistaken for a finished one.
    (out / WORK_DIR / "squat_2_2.npz.partial").write_bytes(b"half a file")
    # The restart skips the finished clips and runs the rest in two worker processes.
    assert main(["extract", str(video_tree), "--out", str(out), "--workers", "2"]) == 0
    report = json.loads((out / "extract_report.json").read_text())
    assert report["skipped_already_done"] == len(finished) and report["clips"] == 3
    assert _arrow_bytes(out) == _arrow_bytes(uninterrupted)
    assert not (out / WORK_DIR).exists()


def test_resume_refuses_other_settings_and_finished_output(uninterrupted, video_tree, tmp_path, capsys):
    out = tmp_path / "dataset"
    extract_dataset(video_tree, out, limit=0, progress=False)
    assert main(["extract", str(video_tree), "--out", str(out), "--fps", "15"]) == 1
    assert "unfinished run" in capsys.readouterr().err
    assert main(["extract", str(video_tree), "--out", str(uninterrupted)]) == 1
    assert "already holds a finished dataset" in capsys.readouterr().err


def test_bad_tree_is_one_line_error(tmp_path, capsys):
    (tmp_path / "juggling").mkdir()
    (tmp_path / "juggling" / "a.mp4").write_bytes(SQUAT_CLIP.read_bytes())
    assert main(["extract", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert "unknown exercise 'juggling'" in error and len(error.strip().splitlines()) == 1
    assert main(["extract", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 1
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown pose backend 'nope'"):
        extract_dataset(tmp_path, tmp_path / "out", backend="nope")


def test_other_exercises_keeps_folders_outside_the_22_as_written(tmp_path):
    (tmp_path / "Front Raise").mkdir()
    (tmp_path / "Front Raise" / "a.mp4").write_bytes(SQUAT_CLIP.read_bytes())
    (tmp_path / "push-ups").mkdir()
    (tmp_path / "push-ups" / "b.mp4").write_bytes(SQUAT_CLIP.read_bytes())
    assert [clip.label for clip in find_clips(tmp_path, other_exercises=True)] == ["front raise", "push up"]
    with pytest.raises(ValueError, match="unknown exercise 'Front Raise'"):
        find_clips(tmp_path)


def test_import_keypoints_round_trip(tmp_path, mediapipe_pose, uninterrupted, capsys):
    sequence = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=15)
    landmarks = np.concatenate([sequence.keypoints, sequence.scores[..., None]], axis=-1)
    landmarks[5:8] = np.nan  # frames with no person, as in the shared archives
    archive = tmp_path / "keypoints.npz"
    np.savez(archive, **{"Squats/clip_7_2": landmarks.astype(np.float16),
                         "push up/correct3": landmarks[:20].astype(np.float16)})
    out = tmp_path / "dataset"
    assert main(["import-keypoints", str(archive), "--out", str(out), "--fps", "15"]) == 0
    assert "2 clips saved" in capsys.readouterr().out
    dataset = load_pose_dataset(out).with_format("numpy")
    rows = {row["clip_id"]: row for row in dataset}
    row = rows["clip_7_2"]
    assert (row["label"], row["source_id"], row["fps"]) == ("squat", "clip_7", 15.0)
    expected = landmarks.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(row["keypoints"], expected[..., :3])
    np.testing.assert_array_equal(row["scores"], np.nan_to_num(expected[..., 3]))
    assert row["detected"].tolist() == [i not in (5, 6, 7) for i in range(len(landmarks))]
    assert rows["correct3"]["label"] == "push up"
    # Imported and extracted datasets are interchangeable: the same columns and feature types.
    assert dataset.features == load_pose_dataset(uninterrupted).features
    assert main(["import-keypoints", str(archive), "--out", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err


def test_an_archive_imported_with_its_frame_size_trains_on_what_predict_reads(tmp_path, mediapipe_pose):
    """The squat clip's MediaPipe landmarks (x / 320, y / 180) in an archive, which records no frame size:
    imported with `--frame-size 320x180`, a "longer_side" model trains on, and is evaluated on, the windows
    that predict cuts from the clip itself. Without the size they reach it stretched by the frame's shape,
    as before the option."""
    import torch

    from gym_gesture import GymGestureConfig, GymGestureForSequenceClassification
    from gym_gesture.data.windows import windows_from_dataset, windows_from_sequence
    from gym_gesture.inference.recognizer import Recognizer
    from gym_gesture.training.evaluate import recognize_clips

    sequence = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=15)
    assert (sequence.width, sequence.height) == (320, 180)
    archive = tmp_path / "keypoints.npz"
    np.savez(archive, **{"squat/clip_1": np.concatenate([sequence.keypoints, sequence.scores[..., None]], axis=-1)})
    out = tmp_path / "dataset"
    assert main(["import-keypoints", str(archive), "--out", str(out), "--fps", "15", "--frame-size", "320x180"]) == 0
    config = GymGestureConfig(num_channels=2, image_scale="longer_side", num_frames=15, window_stride=5,
                              sample_fps=15.0, id2label={0: "squat"})
    at_inference = windows_from_sequence(sequence.model_coordinates(2), sequence.layout, sequence.fps, config,
                                         frame_size=sequence.frame_size)
    imported, _ = windows_from_dataset(load_pose_dataset(out), config, progress=False)
    assert len(imported) == len(at_inference) >= 2
    np.testing.assert_allclose(imported.keypoints, at_inference.keypoints, atol=1e-4)
    torch.manual_seed(0)
    recognizer = Recognizer(GymGestureForSequenceClassification(config), backend=None)
    predicted = recognizer.recognize_sequence(sequence.model_coordinates(2), sequence.layout, sequence.fps,
                                              sequence.detected, frame_size=sequence.frame_size)
    [(_, evaluated)] = recognize_clips(recognizer, [load_pose_dataset(out)])
    np.testing.assert_allclose(evaluated.probabilities, predicted.probabilities, atol=1e-5)
    assert main(["import-keypoints", str(archive), "--out", str(tmp_path / "unsized"), "--fps", "15"]) == 0
    unsized, _ = windows_from_dataset(load_pose_dataset(tmp_path / "unsized"), config, progress=False)
    assert np.abs(unsized.keypoints - at_inference.keypoints).max() > 0.1
