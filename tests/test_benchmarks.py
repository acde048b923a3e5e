"""The benchmark command (`python -m benchmarks.run`) in its quick form on the squat fixture, so it cannot rot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.run import main
from benchmarks.workout_video import make_workout_video
from gym_gesture.pose.video import probe

from conftest import FIXTURES, REPO_ROOT

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"


def test_quick_benchmark_measures_the_real_pipeline(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["--quick", "--videos", str(SQUAT_CLIP), "--long-seconds", "3", "--skip-training", "--skip-app",
                 "--cache", str(tmp_path / "cache"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    results, sample_fps = report["results"], report["model"]["sample_fps"]
    clip = results["real_clips"]["clips"][0]
    assert clip["label"] == "squat" and set(clip["timings"]) >= {"pose", "windows", "model", "overlay"}
    long_run = results["long_videos"][0]
    assert long_run["seconds"] == pytest.approx(3, abs=0.05)
    assert long_run["frames"] == round(3 * sample_fps)
    assert 0.2 < long_run["peak_rss_gb"] < 8  # a real process with torch and MediaPipe loaded
    # The table reports the measured runs: real-time factors are the run's seconds over the video's.
    assert long_run["rtf_top_k"] == pytest.approx(long_run["top_k_s"] / long_run["seconds"], rel=1e-2)
    table = {row["figure"]: row["value"] for row in report["figures"]}
    assert table["RTF top-k, 3-s 720p video"] == long_run["rtf_top_k"]
    assert table["pose, MediaPipePose (our wrapper)"] == results["pose"]["wrapper_ms"]
    assert "pose wrapper overhead" in table
    assert "CLI --help (whole process)" in table and "CLI predict of a missing file (whole process)" in table
    assert "| pose wrapper overhead |" in out.with_suffix(".md").read_text()
    assert "RTF overlay, 3-s 720p video" in capsys.readouterr().out  # the table


def test_workout_video_is_720p_at_30_fps_and_cached(tmp_path):
    video = make_workout_video(tmp_path / "workout.mp4", 2, [SQUAT_CLIP])
    info = probe(video)
    assert (info.width, info.height, info.frame_count) == (1280, 720, 60)
    assert info.fps == pytest.approx(30)
    modified = video.stat().st_mtime_ns
    assert make_workout_video(video, 2, [SQUAT_CLIP]) == video and video.stat().st_mtime_ns == modified


@pytest.mark.slow
def test_extract_ray_benchmark_measures_all_four_runs(tmp_path, capsys):
    pytest.importorskip("ray")
    from benchmarks.extract_ray import main as extract_ray_main

    tree = tmp_path / "videos" / "squat"
    tree.mkdir(parents=True)
    for name in ("squat_1.mp4", "squat_2.mp4"):
        (tree / name).write_bytes(SQUAT_CLIP.read_bytes())
    out = tmp_path / "extract_ray"
    assert extract_ray_main(["--videos", str(tree.parent), "--fps", "10", "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert [(row["where"], row["workers"]) for row in report["runs"]] == [("local", 1), ("local", 2), ("ray", 1),
                                                                          ("ray", 2)]
    assert all(row["clips_per_s"] > 0 for row in report["runs"]) and report["clips"] == 2
    assert report["same_dataset_every_run"] and report["frames_median_clip"] == 25  # 2.5 s at 10 fps
    assert 0 < report["ray_overhead_ms_per_clip"] < 1000
    assert "load average" in report["uptime_start"]
    assert "| ray | 2 |" in out.with_suffix(".md").read_text() and "| local | 1 |" in capsys.readouterr().out


def test_the_clip_score_benchmark_reads_the_mean_that_predict_abstains_on(shared_data, model_dir):
    """`benchmarks.clip_aggregates` compares other scores with the one the deployed path reads: its "mean"
    is `recognize_sequence`'s clip probability, on a real gym5 pull-up clip and the shipped checkpoint."""
    from benchmarks.clip_aggregates import SCORES, both_ways, clip_score
    from gym_gesture.data.windows import load_pose_datasets, windows_from_sequence
    from gym_gesture.inference.recognizer import Recognizer

    row = load_pose_datasets(shared_data / "keypoints" / "gym5_mediapipe33.npz")[0].filter(
        lambda clip_id: clip_id.endswith("pull_up_19"), input_columns="clip_id").with_format("numpy")[0]
    recognizer = Recognizer.from_pretrained(model_dir, backend=None)
    keypoints, layout, fps = row["keypoints"], str(row["layout"]), float(row["fps"])
    probabilities = both_ways(recognizer.model, windows_from_sequence(keypoints, layout, fps, recognizer.config))
    result = recognizer.recognize_sequence(keypoints, layout, fps, row["detected"])
    assert probabilities.shape == (2, len(result.windows), 22)
    assert clip_score(probabilities, "mean") == pytest.approx(result.clip_sample.probability, abs=1e-6)
    assert result.clip_sample.predicted == "pull up"
    scores = {score: clip_score(probabilities, score) for score in SCORES}
    # 29 s of pull-ups: nearly every window is sure (the quartiles); a few unsure ones pull the mean below them.
    assert scores["mean"] < 0.995 < scores["lower_quartile"] <= scores["median"]


@pytest.mark.parametrize("shape", ["landscape 16:9", "portrait 9:16"])
def test_the_frame_shape_benchmark_widens_the_frame_around_the_person_without_moving_them(shape):
    """`benchmarks.frame_shape` shows a real clip (the squat fixture, 320x180, MediaPipe's keypoints) in a frame
    of another shape: the smallest of that shape holding the clip's, centred; every joint stays on the same
    pixel of the clip, and a missing joint stays missing."""
    from benchmarks.frame_shape import SHAPES, in_frame_of_shape

    video = probe(FIXTURES / "squat_clip.mp4")
    size = (video.width, video.height)
    keypoints = np.load(FIXTURES / "squat_clip_mediapipe33.npy")
    keypoints[3, 5] = np.nan
    placed, framed = in_frame_of_shape(keypoints, size, SHAPES[shape])
    assert framed == {"landscape 16:9": (320, 180), "portrait 9:16": (320, 569)}[shape]
    offset = (np.array(framed) - size) / 2
    np.testing.assert_allclose(placed[..., :2] * framed - offset, keypoints[..., :2] * size, atol=1e-3)
    np.testing.assert_array_equal(placed[..., 2:], keypoints[..., 2:])
    assert np.isnan(placed[3, 5]).all() and np.isfinite(np.delete(placed, 3, axis=0)).all()
    assert in_frame_of_shape(keypoints, None, SHAPES[shape])[1] is None
    assert in_frame_of_shape(keypoints, size, SHAPES["as filmed"])[0] is keypoints


def test_extractions_compared_finds_the_frames_where_two_extractions_follow_different_bodies():
    """`benchmarks.extractions_compared` on the squat fixture's real MediaPipe skeleton against itself with
    frames 10-14 moved by the person's width (another person beside them), frame 20 missing and frames
    30-34 jittered by a twentieth of their size: the moved frames, and only they, are apart."""
    from benchmarks.extractions_compared import frames_apart

    first = np.load(FIXTURES / "squat_clip_mediapipe33.npy")[..., :2]
    size = np.ptp(first, axis=1).max()
    second = first.copy()
    second[10:15, :, 0] += size
    second[20] = np.nan
    second[30:35] += np.random.default_rng(0).normal(0, size / 20, second[30:35].shape)
    assert np.flatnonzero(frames_apart(first, second)).tolist() == [10, 11, 12, 13, 14]
    assert not frames_apart(first, first[:50]).any() and len(frames_apart(first, first[:50])) == 50


def test_the_targets_benchmark_measures_each_figure_where_it_says(shared_data, model_dir, tmp_path):
    """`benchmarks.gym22_targets` on a little of each input: the gym5 archive, one held-out
    real squat video of the default's test sources (named right when committed) and one video of an exercise
    type nothing saw (a wall push up, abstained on when committed). Each figure comes from its own run, the
    leave-exercise-out ones from the model's calibration.json, the reps from the reps benchmark's JSON."""
    from benchmarks.gym22_targets import measure

    data = [str(shared_data / "keypoints" / "gym5_mediapipe33.npz")]
    known, unseen = tmp_path / "known" / "squat", tmp_path / "unseen" / "wall push up"
    for folder, clip in ((known, shared_data / "clips22" / "squat" / "mburgosfr-star_kelani-sbd-tracker__squat.mp4"),
                         (unseen, shared_data / "unknown" / "wall push up" /
                          "quwatulquloob_AI-Exercise-and-Yoga-trainer__wall_pushups.mp4")):
        folder.mkdir(parents=True)
        (folder / clip.name).symlink_to(clip)
    reps = REPO_ROOT / "results" / "reps.json"
    result = measure(str(model_dir), data, [str(known.parent)], [str(unseen.parent)], reps, tmp_path / "out")

    figures = result["figures"]
    assert figures["held-out real videos of the 22 through `predict`: named right"] == {
        "measured": "1.000 (1 of 1)", "target": ">= 0.85", "met": "yes"}
    unseen_abstained = figures["videos of gym exercise types nothing saw, through `predict`: abstained"]
    assert unseen_abstained["measured"] == "1.000 (1 of 1)"
    gym5 = json.loads((REPO_ROOT / "results" / "gym22" / "test_gym5.json").read_text())["clip_accuracy"]
    assert figures["gym5 archive held-out sources: clip accuracy"] == {
        "measured": f"{gym5:.3f} (27 clips)", "target": ">= 0.97", "met": "yes" if gym5 >= 0.97 else "no"}
    held_out = json.loads((model_dir / "calibration.json").read_text())["protocol"]["held_out_types"]
    assert figures["validation, leave-exercise-out: held-out types abstained"]["measured"].startswith(
        f"{held_out['abstain_rate']:.3f} ({held_out['clips']} clips")
    counted = json.loads(reps.read_text())["table"]["per-exercise (count_reps: own signal, else class-agnostic)"]
    assert figures["reps within one of the count by eye"]["measured"].startswith(f"{counted['all clips']['within_one']:.3f}")
    assert figures["held-out clips of everyday sports: abstained"]["met"] is None  # not measurable here
    assert not any(name.startswith("Penn Action") for name in figures)  # no Penn Action archive in the data
    assert (tmp_path / "out" / "targets.md").read_text().count("\n") == len(figures) + 2
