"""The one inference path (Recognizer) and `gym-gesture predict` on real clips with real MediaPipe."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gym_gesture.app.main import EXAMPLES_DIR
from gym_gesture.inference.recognizer import SHIPPED_MODELS, NoPersonError, Recognizer
from gym_gesture.analysis.prediction import Prediction
from gym_gesture.pose.video import VideoWriter, probe

from conftest import FIXTURES, REPO_ROOT, read_browser_playable

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"
EXAMPLE_LABELS = {"squat.mp4": "squat", "plank.mp4": "plank", "russian_twist.mp4": "russian twist"}  # walking.mp4: no exercise
# Shared clips the shipped checkpoint gets wrong, and why: reported in the model card, not hidden.
# Each is asserted as it is, so that a change (fixed, or wrong another way) shows.
# Clip -> (the label the default model gives, why): none for the 22-class default (the 7-class model named the
# backlit pull_up_00.mp4 squat; the 22-class model trained on the videos/ folder's pull ups).
KNOWN_MISSES: dict[str, tuple[str, str]] = {}


@pytest.fixture(scope="module")
def squat_prediction(recognizer, tmp_path_factory):
    overlay = tmp_path_factory.mktemp("overlay") / "squat_overlay.mp4"
    stages = []
    prediction = recognizer.predict(SQUAT_CLIP, top_k=3, overlay_path=overlay,
                                    progress=lambda fraction, stage: stages.append((stage, fraction)))
    return prediction, overlay, stages


def test_prediction_is_consistent_with_the_clip_and_the_model(recognizer, squat_prediction):
    prediction, _, stages = squat_prediction
    info = probe(SQUAT_CLIP)
    config = recognizer.config
    # Frames at the model's rate cover the clip; MediaPipe finds the one person in nearly all of them.
    assert abs(prediction.frames - info.duration * config.sample_fps) <= 2
    assert 0.9 * prediction.frames <= prediction.detected_frames <= prediction.frames

    # Clip scores are the mean of the window probabilities, ranked, top 3 of the model's labels.
    probabilities = prediction.window_probabilities
    assert probabilities.shape == (len(prediction.windows), config.num_labels)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    mean = probabilities.mean(axis=0)
    assert [item.label for item in prediction.top_k] == [config.id2label[i] for i in np.argsort(-mean)[:3]]
    np.testing.assert_allclose([item.score for item in prediction.top_k], np.sort(mean)[::-1][:3], atol=1e-4)

    # Windows: in time order, inside the clip, at most num_frames long, labeled by their own argmax.
    window_length = config.num_frames / config.sample_fps
    starts = [window.start_s for window in prediction.windows]
    assert starts == sorted(starts) and starts[0] >= 0
    for window, row in zip(prediction.windows, probabilities):
        assert 0 < window.end_s - window.start_s <= window_length + 1e-6
        assert window.end_s <= info.duration + 1 / config.sample_fps
        assert window.label == config.id2label[int(row.argmax())]
        assert window.score == pytest.approx(float(row.max()), abs=1e-4)
    # The last window ends at the clip's end; a clip shorter than a window is one padded window.
    assert prediction.windows[-1].end_s == pytest.approx(info.duration, abs=1 / config.sample_fps)
    expected_windows = 1 if info.duration <= window_length else 2 + int(
        (info.duration - window_length) * config.sample_fps) // config.window_stride
    assert len(prediction.windows) in (expected_windows - 1, expected_windows)

    assert set(prediction.timings) == {"pose", "windows", "model", "overlay"}
    assert prediction.seconds >= sum(prediction.timings.values()) - 0.01
    assert [stage for stage, _ in stages][0] == "pose" and stages[-1] == ("done", 1.0)


def test_to_json_is_serializable_and_reads_back(squat_prediction):
    prediction, overlay, _ = squat_prediction
    payload = json.loads(json.dumps(prediction.to_json()))
    assert Prediction.from_json(payload) == prediction
    assert payload["overlay_path"] == str(overlay)
    assert payload["detection_rate"] == pytest.approx(payload["detected_frames"] / payload["frames"], abs=1e-4)


def test_timeline_reps_and_form_of_the_squat_clip(squat_prediction):
    """The fixture is one squat (counted by eye, tests/fixtures/rep_counts.json: squat_04) over 2.5 s."""
    prediction, _, _ = squat_prediction
    assert (prediction.verdict, prediction.exercise, prediction.abstain) == ("exercise", "squat", None)
    [segment] = prediction.segments
    assert segment.exercise == "squat" == prediction.label
    assert segment.start == pytest.approx(prediction.windows[0].start_s)
    assert segment.end == pytest.approx(prediction.windows[-1].end_s)
    assert segment.reps == prediction.reps == 1 and len(segment.rep_times) == 1
    assert segment.form is None  # form feedback is for push ups


def test_a_person_standing_still_is_no_exercise(recognizer, tmp_path):
    """The squat clip's first frame held for 3 s: a person is there, but nothing moves."""
    from gym_gesture.pose.video import read_frames

    first = next(read_frames(SQUAT_CLIP)).image
    still = tmp_path / "still.mp4"
    with VideoWriter(still, fps=30) as writer:
        for _ in range(90):
            writer.write(first)
    prediction = recognizer.predict(still)
    assert prediction.abstain.startswith("no exercise motion")
    assert (prediction.verdict, prediction.exercise, prediction.headline) == ("not an exercise", None,
                                                                              "Not an exercise I know")
    # Its segments agree: none is named (the 22-class default is unsure of every window, so none forms).
    assert all(segment.verdict == "not an exercise" for segment in prediction.segments)


def test_overlay_plays_at_the_clip_rate_with_the_verdict_as_captions(squat_prediction):
    prediction, overlay, stages = squat_prediction
    source = probe(SQUAT_CLIP)
    frames, _, fps = read_browser_playable(overlay)
    assert fps == pytest.approx(source.fps, abs=0.01)
    assert len(frames) == source.frame_count > 2 * prediction.frames  # every frame of the clip, not the 10 fps of pose
    captions = overlay.with_suffix(".vtt").read_text()
    assert captions.startswith("WEBVTT") and "squat, 1 rep" in captions
    overlay_progress = [fraction for stage, fraction in stages if stage == "overlay"]
    assert overlay_progress[0] == 0.0 and overlay_progress[-1] == 1.0


def test_no_person_is_a_clear_error(recognizer, tmp_path):
    # An empty scene: a grey wall with a little sensor noise, 3 s.
    clip = tmp_path / "empty_room.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(clip, fps=30) as writer:
        for _ in range(90):
            writer.write(np.clip(128 + rng.normal(0, 4, (240, 320, 3)), 0, 255).astype(np.uint8))
    with pytest.raises(NoPersonError, match="nobody found in any of its 30 frames"):
        recognizer.predict(clip, overlay_path=tmp_path / "overlay.mp4")
    assert not (tmp_path / "overlay.mp4").exists()


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50])
def test_unreadable_file_is_a_clear_error(recognizer, tmp_path, content):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a video|not a readable video"):
        recognizer.predict(path)


def test_duration_cap(model_dir):
    recognizer = Recognizer.from_pretrained(model_dir, max_duration=1.0)
    with pytest.raises(ValueError, match="over the limit of 1 s"):
        recognizer.predict(SQUAT_CLIP)


def _cli(*args, cwd=REPO_ROOT):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "gym_gesture", "predict", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_cli_predict_json_matches_the_recognizer(model_dir, squat_prediction, tmp_path):
    overlay = tmp_path / "overlay.mp4"
    result = _cli(SQUAT_CLIP, "--model", model_dir, "--top-k", 3, "--overlay", overlay, "--json",
                  "--summary", tmp_path / "workout.csv")
    assert result.returncode == 0, result.stderr[-2000:]
    printed = Prediction.from_json(json.loads(result.stdout))
    expected = squat_prediction[0]
    assert (printed.top_k, printed.windows, printed.segments) == (expected.top_k, expected.windows, expected.segments)
    assert (printed.frames, printed.detected_frames) == (expected.frames, expected.detected_frames)
    assert probe(overlay).frame_count == probe(SQUAT_CLIP).frame_count
    rows = list(csv.DictReader((tmp_path / "workout.csv").open()))
    assert [(row["exercise"], row["reps"], row["main_joint"]) for row in rows] == [("squat", "1", "knee")]


def test_cli_text_puts_the_verdict_first_and_marks_segments_not_named(model_dir):
    """A person walking: the headline says what it is, the ranking follows, the segment line says it too."""
    result = _cli(EXAMPLES_DIR / "walking.mp4", "--model", model_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Not an exercise I know: Walking, not an exercise done in place")
    assert lines[1] == "the model's ranking:"
    [segment] = [line for line in lines if " s  " in line]
    assert segment.endswith("s  not an exercise I know")
    assert lines[-1].startswith("1 window, person found in")


def test_cli_predict_errors_are_one_line(model_dir, tmp_path, capsys):
    from gym_gesture.cli import main

    assert main(["predict", str(tmp_path / "missing.mp4"), "--model", str(model_dir)]) == 1
    assert capsys.readouterr().err == f"gym-gesture predict: error: {tmp_path / 'missing.mp4'}: no such video file\n"
    (tmp_path / "notes.mp4").write_text("not a video")
    assert main(["predict", str(tmp_path / "notes.mp4"), "--model", str(model_dir)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not a readable video" in error
    assert main(["predict", str(SQUAT_CLIP), "--model", str(tmp_path / "no-model")]) == 1
    assert capsys.readouterr().err == (f"gym-gesture predict: error: {tmp_path / 'no-model'}: no such model folder "
                                       f"(shipped models: {', '.join(SHIPPED_MODELS)})\n")


def test_a_shipped_model_is_asked_for_by_name(model_dir):
    from gym_gesture.inference.recognizer import resolve_model_dir

    assert model_dir.name in SHIPPED_MODELS
    assert resolve_model_dir(model_dir.name) == model_dir


@pytest.mark.slow
def test_shared_clips_of_every_container(recognizer, shared_data):
    """Real clips beside the checkout, one per label and container (.mp4, .avi; 720p and 1080p)."""
    manifest = json.loads((shared_data / "videos" / "manifest.json").read_text())
    picked = {}
    for entry in manifest:  # one clip per label and container
        picked.setdefault((entry["label"], Path(entry["file"]).suffix), entry)
    for entry in picked.values():
        prediction = recognizer.predict(shared_data / "videos" / entry["file"])
        assert prediction.detected_frames > 0.5 * prediction.frames, entry["file"]
        assert len(prediction.windows) >= 1
        if entry["file"] in KNOWN_MISSES:
            assert prediction.label == KNOWN_MISSES[entry["file"]][0], f"known miss changed: update KNOWN_MISSES ({entry['file']})"
        elif entry["label"] in recognizer.labels:
            assert prediction.label == entry["label"], entry["file"]


@pytest.mark.parametrize("clip", sorted(EXAMPLE_LABELS))
def test_shipped_checkpoint_names_the_example_clips(recognizer, clip):
    assert recognizer.predict(EXAMPLES_DIR / clip).label == EXAMPLE_LABELS[clip]


def test_window_times_follow_the_windows_the_data_pipeline_keeps(recognizer, mediapipe_pose):
    """With the person gone for 3 s mid-clip, the windows over the gap are dropped and the times of
    the ones kept still match them, window for window."""
    from gym_gesture.data.windows import windows_from_sequence
    from gym_gesture.pose.sequence import extract_clip

    config = recognizer.config
    sequence = extract_clip(EXAMPLES_DIR / "plank.mp4", mediapipe_pose, config.sample_fps)
    keypoints = sequence.keypoints.copy()
    keypoints[:10] = np.nan  # walks in late: the first 10 frames are trimmed
    keypoints[60:150] = np.nan
    all_windows = windows_from_sequence(sequence.keypoints, sequence.layout, sequence.fps, config)
    kept = windows_from_sequence(keypoints, sequence.layout, sequence.fps, config)
    spans = kept.spans
    assert len(spans) == len(kept) < len(all_windows)
    window = config.num_frames / config.sample_fps
    assert spans[0][0] == pytest.approx(10 / config.sample_fps, abs=1e-3)
    for start, end in spans:
        missing = max(0.0, min(end, 150 / sequence.fps) - max(start, 60 / sequence.fps))
        assert missing / (end - start) < 0.5
        assert end - start <= window + 1e-6


def test_hub_model_is_one_snapshot_with_its_calibration_and_form_model(model_dir, tmp_path, monkeypatch):
    """A Hub id resolves to one downloaded folder (at the asked revision), and the recognizer reads every
    per-model file from it: here a calibration.json that differs from the shipped one."""
    import shutil

    import huggingface_hub

    from gym_gesture.inference.recognizer import FORM_MODEL_FILE, resolve_model_dir

    snapshot = tmp_path / "snapshot"
    shutil.copytree(model_dir, snapshot)
    calibration = json.loads((snapshot / "calibration.json").read_text())
    calibration["thresholds"]["min_probability"] = 0.77
    (snapshot / "calibration.json").write_text(json.dumps(calibration))
    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, tuple(allow_patterns)))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    recognizer = Recognizer.from_pretrained("someone/gym-gesture", backend=_NoBackend(), revision="v2")
    assert {call[:2] for call in calls} == {("someone/gym-gesture", "v2")}
    assert "*.safetensors" in calls[0][2] and "*.json" in calls[0][2]
    assert recognizer.thresholds.min_probability == 0.77
    assert recognizer.form_model is not None and (snapshot / FORM_MODEL_FILE).is_file()
    assert resolve_model_dir(model_dir) == model_dir


def test_hub_model_offline_and_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    from gym_gesture.inference.recognizer import resolve_model_dir

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="someone/gym-gesture: not in the local Hugging Face cache"):
        resolve_model_dir("someone/gym-gesture")


class _NoBackend:
    """A stand-in pose backend for tests that never run pose."""

    name, layout = "none", "mediapipe33"

    def close(self):
        pass


def test_cli_predicts_with_a_hub_model_at_a_revision(model_dir, monkeypatch, capsys):
    """`predict --model USER/NAME --revision REV` downloads that revision once and reports the Hub id."""
    import huggingface_hub

    from gym_gesture.cli import main

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, revision=None, allow_patterns=None: calls.append((repo_id, revision)) or str(model_dir))
    assert main(["predict", str(SQUAT_CLIP), "--model", "someone/gym-gesture", "--revision", "v2", "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert calls == [("someone/gym-gesture", "v2")]
    assert (prediction["model"], prediction["top_k"][0]["label"]) == ("someone/gym-gesture", "squat")


def test_a_two_channel_model_reads_the_image_plane(mediapipe_pose, model_dir):
    """x, y normalized to the frame: MediaPipe's own x, y, and what a 2-channel model is fed by predict,
    whatever the backend's third channel (or 3-D lifter) holds."""
    import torch

    from gym_gesture import GymGestureConfig
    from gym_gesture import GymGestureForSequenceClassification
    from gym_gesture.pose.sequence import extract_clip

    shipped = GymGestureConfig.from_pretrained(model_dir)
    sequence = extract_clip(SQUAT_CLIP, mediapipe_pose, shipped.sample_fps)
    image_plane = sequence.model_coordinates(2)
    assert image_plane.shape == sequence.keypoints.shape[:2] + (2,)
    np.testing.assert_allclose(image_plane[sequence.detected], sequence.keypoints[sequence.detected][..., :2], atol=1e-5)
    assert np.isnan(image_plane[~sequence.detected]).all()
    assert sequence.model_coordinates(3) is sequence.keypoints

    torch.manual_seed(0)
    config = GymGestureConfig.from_dict({**shipped.to_dict(), "num_channels": 2})
    recognizer = Recognizer(GymGestureForSequenceClassification(config), mediapipe_pose)
    prediction = recognizer.predict(SQUAT_CLIP)
    assert prediction.windows and prediction.frames == len(sequence)  # untrained: no segment clears its threshold
    # predict feeds the image plane (x, y), not two other channels: x, z changes the probabilities by up to 0.02.
    expected = recognizer.recognize_sequence(image_plane, sequence.layout, sequence.fps, sequence.detected,
                                             frame_size=sequence.frame_size)
    np.testing.assert_allclose(prediction.window_probabilities, expected.probabilities, atol=1e-6)


def _portrait_and_landscape_windows(config) -> list[np.ndarray]:
    """The real squat fixture's landmarks as pixels of a 720x1280 phone clip, and the same pixels in a frame as
    tall and wider (a landscape edit beside another clip), each as x / width and y / height with its frame
    size: the windows the model of `config` reads of each."""
    from gym_gesture.data.windows import windows_from_sequence

    landmarks = np.load(FIXTURES / "squat_clip_mediapipe33.npy")
    pixels = landmarks[..., :2] * np.float32([720, 1280])
    return [windows_from_sequence(pixels / np.float32([width, 1280]), "mediapipe33", 30.0, config,
                                  frame_size=(width, 1280)).keypoints for width in (720, 2276)]


@pytest.mark.parametrize("image_scale", ["longer_side", "frame_axes"])
def test_the_same_pose_in_a_portrait_and_a_landscape_frame_is_one_input_with_one_scale(image_scale):
    """A model of "longer_side" reads the same windows of both frames. One of "frame_axes" (every shipped
    checkpoint) reads them up to 0.26 torso lengths apart, so that a lateral raise of clips22 beside a
    bystander read as a shoulder press (0.90) to a model trained so on the tracker's extraction."""
    from gym_gesture import GymGestureConfig

    portrait, landscape = _portrait_and_landscape_windows(
        GymGestureConfig(num_channels=2, image_scale=image_scale, num_frames=30, window_stride=15))
    difference = np.abs(portrait - landscape).max()
    if image_scale == "longer_side":
        assert difference < 1e-4
    else:
        assert difference > 0.2


@pytest.mark.xfail(strict=True, reason="known miss: the default checkpoint reads x / width and y / height "
                   "(image_scale frame_axes); the one-scale model trained for it was not adopted "
                   "(docs/training.md, one scale for both image axes)")
def test_the_default_model_reads_the_same_pose_in_a_portrait_and_a_landscape_frame_alike(model_dir):
    from gym_gesture import GymGestureConfig

    portrait, landscape = _portrait_and_landscape_windows(GymGestureConfig.from_pretrained(model_dir))
    np.testing.assert_allclose(portrait, landscape, atol=1e-4)
