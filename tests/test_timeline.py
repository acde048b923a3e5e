"""Timeline: windows -> smoothed segments; abstaining (no person, no motion, low probability); calibration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gym_gesture.core.paths import EXAMPLES_DIR
from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, FORM_MODEL_FILE
from gym_gesture.data.windows import load_pose_datasets
from gym_gesture.analysis.abstain import AbstainSample, AbstainThresholds, abstain_reason
from gym_gesture.analysis.motion import motion_energy, walking_speed
from gym_gesture.analysis.prediction import Segment
from gym_gesture.analysis.segments import (ClassifiedWindow, RawSegment, SegmentTracker, segments_from_windows,
                                           smooth_probabilities)
from gym_gesture.analysis.sets import PAUSE_S, SET_END_AFTER_REP_S, SET_REST_S, bridge_pauses, bridged_last, clip_sets
from gym_gesture.training.calibration import abstained_share, calibrate_threshold, probability_within_budget

LABELS = ("push up", "squat", "plank")


def _windows(classes: list[int], length: float = 2.0, stride: float = 1.0, confidence: float = 0.8):
    """Overlapping windows (2 s long every 1 s) whose probabilities favor `classes[i]`."""
    starts = np.arange(len(classes)) * stride
    probabilities = np.full((len(classes), len(LABELS)), (1 - confidence) / (len(LABELS) - 1))
    probabilities[np.arange(len(classes)), classes] = confidence
    return starts, starts + length, probabilities


def test_workout_becomes_segments_and_a_flicker_does_not():
    classes = [1] * 10 + [0] + [1] * 5 + [0] * 12  # squats, one stray window, more squats, push ups
    starts, ends, probabilities = _windows(classes)
    segments = segments_from_windows(starts, ends, probabilities, LABELS)
    assert [s.exercise for s in segments] == ["squat", "push up"]
    # boundary halfway between the centers of the last squat window (15) and the first push-up window (16)
    assert segments[0].start == 0.0 and segments[0].end == pytest.approx(16.5)
    assert segments[1].start == pytest.approx(16.5) and segments[1].end == pytest.approx(29.0)
    assert segments[0].windows + segments[1].windows == len(classes)


def test_short_segment_folds_into_its_longer_neighbour_but_a_long_one_stays():
    starts, ends, probabilities = _windows([1] * 8 + [2] * 2 + [0] * 3)
    assert [s.exercise for s in segments_from_windows(starts, ends, probabilities, LABELS, neighbours=0,
                                                      min_duration_s=3.0)] == ["squat", "push up"]
    assert [s.exercise for s in segments_from_windows(starts, ends, probabilities, LABELS, neighbours=0,
                                                      min_duration_s=1.0)] == ["squat", "plank", "push up"]


def test_unsure_windows_are_gaps_not_segments():
    starts, ends, probabilities = _windows([1] * 6 + [0] * 6)
    probabilities[6:] = 1 / len(LABELS)  # the model has no idea in the second half
    segments = segments_from_windows(starts, ends, probabilities, LABELS, neighbours=0, min_probability=0.5)
    assert [s.exercise for s in segments] == ["squat"]
    assert segments[0].end == pytest.approx(6.5)


def test_a_pause_in_a_set_is_bridged_but_a_rest_or_another_exercise_is_not():
    """Squats, 3 s unsure (standing between reps), squats: one segment. After a longer unsure stretch, or with
    push ups between, the squats stay apart."""
    def timeline(pause_s: float, between: list[int]):
        unsure = [-1] * round(pause_s)
        classes = np.array([1] * 6 + unsure + between + unsure * bool(between) + [1] * 4)
        starts, ends, probabilities = _windows(np.maximum(classes, 0).tolist(), confidence=0.9)
        probabilities[classes < 0] = 1 / len(LABELS)
        return segments_from_windows(starts, ends, probabilities, LABELS, neighbours=0, min_probability=0.5)

    paused = timeline(3, [])
    assert [s.exercise for s in paused] == ["squat", "squat"]
    bridged = bridge_pauses(paused)
    assert [(s.exercise, s.start, s.end, s.windows) for s in bridged] == [("squat", 0.0, paused[1].end, 10)]
    assert bridged[0].probability == pytest.approx(0.9)  # the pause's unsure windows are not in it
    assert len(bridge_pauses(timeline(PAUSE_S + 2, []))) == 2
    pushed = timeline(3, [0] * 3)
    assert [s.exercise for s in pushed] == [s.exercise for s in bridge_pauses(pushed)] == ["squat", "push up", "squat"]


def test_smoothing_and_input_errors():
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert np.allclose(smooth_probabilities(probabilities, 1), [[0.5, 0.5], [2 / 3, 1 / 3], [0.5, 0.5]])
    assert segments_from_windows([], [], np.zeros((0, 3)), LABELS) == []
    with pytest.raises(ValueError, match="classes"):
        segments_from_windows([0.0], [2.0], np.ones((1, 2)), LABELS)
    with pytest.raises(ValueError, match="differ"):
        segments_from_windows([0.0, 1.0], [2.0], np.ones((2, 3)), LABELS)


def test_segments_kept_up_window_by_window_are_those_of_all_windows():
    """Live coaching keeps its timeline up to date as windows come (`SegmentTracker`): after each window,
    the very segments (to the last bit) `segments_from_windows` cuts from all of them, with a newest window
    that the next replaces, flickers, unsure stretches, and now and then a window that starts before the
    one before it (its first frames lost), of another length."""
    rng = np.random.default_rng(0)
    for neighbours, min_duration_s in ((1, 2.0), (0, 1.0), (2, 3.0)):
        tracker = SegmentTracker(LABELS, neighbours=neighbours, min_probability=0.5, min_duration_s=min_duration_s)
        windows, exercise = [], 0
        for index in range(150):
            exercise = int(rng.integers(len(LABELS))) if rng.random() < 0.05 else exercise
            probabilities = rng.dirichlet(np.ones(len(LABELS)))
            if rng.random() < 0.8:  # else a flicker or an unsure window
                probabilities = 0.3 * probabilities + 0.7 * np.eye(len(LABELS))[exercise]
            start = index * 0.5 - (0.3 if rng.random() < 0.05 else 0.0)
            windows.append(ClassifiedWindow(start, start + float(rng.choice([2.0, 3.0])), probabilities))
            tracker.add(windows[-1])
            newest = ClassifiedWindow(start + 0.2, start + 3.2, rng.dirichlet(np.ones(len(LABELS)))) \
                if rng.random() < 0.5 else None
            tracker.set_newest(newest)
            every = windows + [newest] * (newest is not None)
            expected = segments_from_windows([w.start for w in every], [w.end for w in every],
                                             np.stack([w.probabilities for w in every]), LABELS, neighbours=neighbours,
                                             min_probability=0.5, min_duration_s=min_duration_s)
            assert tracker.segments() == expected
            assert list(tracker.newest_first()) == expected[::-1]
            assert bridged_last(tracker.newest_first()) == (bridge_pauses(expected)[-1] if expected else None)
            assert np.array_equal(tracker.latest_probabilities(),
                                  smooth_probabilities(np.stack([w.probabilities for w in every]), neighbours)[-1])


def test_a_clips_sets_leave_out_getting_ready_and_the_rests_between():
    """Issue #28's case: 11.8 s of getting ready before the first rep taken for a squat (no rep), then hip
    thrusts with a rest; `clip_sets`, stepping as live mode does, makes sets of the reps only."""
    rep_times = [14.0, 16.0, 18.0, 40.0, 42.0]  # a set, 22 s of rest, a second set

    def count(piece):  # the reps done within each piece, as the rep counter would find them
        times = [t for t in rep_times if piece.start <= t < piece.end] if piece.exercise == "hip thrust" else []
        return len(times), times

    def describe_all(pieces):
        return [Segment(piece.exercise, piece.start, piece.end, 0.9, 1, *count(piece), None, None) for piece in pieces]

    timeline = [RawSegment("squat", 0.0, 11.8, 0.9, 10), RawSegment("hip thrust", 11.8, 45.0, 0.9, 30)]
    sets = clip_sets(timeline, describe_all, count, fps=10.0)
    assert [(s.exercise, s.reps) for s in sets] == [("hip thrust", 3), ("hip thrust", 2)]
    assert sets[0].start == 11.8 and sets[0].end == 18.0 + SET_END_AFTER_REP_S
    # The second set starts at most SET_REST_S before its first rep (then no sooner: the rest has no rep).
    assert 40.0 - SET_REST_S <= sets[1].start < 40.0 and sets[1].end == 45.0


def test_abstain_reasons():
    assert abstain_reason(0.2, 0.9, 0.3, "squat").startswith("no person found in most frames")
    assert abstain_reason(1.0, 0.9, 0.01, "squat").startswith("no exercise motion")
    assert abstain_reason(1.0, 0.9, float("nan"), "squat").startswith("no exercise motion")
    assert abstain_reason(1.0, 0.9, 0.01, "plank") is None  # a plank is held still
    assert abstain_reason(1.0, 0.3, 0.3, "squat").startswith("not sure which exercise")
    assert abstain_reason(1.0, 0.9, 0.3, "squat") is None


def test_calibration_trade_off():
    rng = np.random.default_rng(0)
    labels = rng.choice(LABELS, 60)
    exercises = [_sample(label if right else "plank", probability, label=label)
                 for label, probability, right in zip(labels, np.clip(rng.normal(0.85, 0.1, 60), 0, 1),
                                                       rng.random(60) < 0.9)]
    walking = [_sample(probability=p) for p in np.clip(rng.normal(0.45, 0.1, 20), 0, 1)]
    candidates = np.round(np.linspace(0.0, 0.95, 20), 2)
    calibration = calibrate_threshold(exercises, walking, "min_probability", candidates, max_lost=1.0)
    assert 0.5 <= calibration.threshold <= 0.75
    named = [row["exercise_named"] for row in calibration.table]
    abstained = [row["non_exercise_abstained"] for row in calibration.table]
    assert named == sorted(named, reverse=True) and abstained == sorted(abstained)
    assert calibration.row(0.0)["non_exercise_abstained"] == 0.0
    # Losing none of the exercises named right caps the threshold below the balanced optimum.
    capped = calibrate_threshold(exercises, walking, "min_probability", candidates, max_lost=0.0)
    assert capped.threshold < calibration.threshold
    best = max(row["exercise_named_right"] for row in capped.table)
    assert capped.row(capped.threshold)["exercise_named_right"] == best
    with pytest.raises(ValueError, match="needs clips"):
        calibrate_threshold(exercises, [], "min_probability", candidates)
    with pytest.raises(ValueError, match="unknown threshold"):
        calibrate_threshold(exercises, walking, "min_speed", candidates)


def test_the_probability_threshold_is_as_high_as_the_known_clips_budget_allows():
    """Twenty known clips: one still (abstained on as no motion whatever the probability), one at 0.32, one at
    0.42, the rest at 0.9. One clip in twenty (0.05) to spend: the still one spends it, and the threshold is
    0.30, just under 0.32, whether the rules chose 0.1 (raised) or 0.6 (lowered: at 0.6 three clips in twenty
    are abstained on); two clips: 0.40; three: 0.90. With no clip to spend, the still one is over the budget
    whatever the probability, and the rules' choice stays."""
    probabilities = [0.95, 0.32, 0.42] + [0.9] * 17
    exercises = [_sample(probability=p, motion=0.0 if i == 0 else 0.3, label="squat")
                 for i, p in enumerate(probabilities)]
    thresholds = AbstainThresholds(min_probability=0.1, min_motion=0.05)
    assert probability_within_budget(exercises, thresholds, max_abstained=0.05) == 0.3
    assert probability_within_budget(exercises, thresholds, max_abstained=0.10) == 0.4
    assert probability_within_budget(exercises, thresholds, max_abstained=0.15) == 0.9
    assert probability_within_budget(exercises, thresholds, max_abstained=0.0) == 0.1
    too_high = replace(thresholds, min_probability=0.6)
    assert abstained_share(exercises, too_high) == 0.15
    assert probability_within_budget(exercises, too_high, max_abstained=0.05) == 0.3
    assert probability_within_budget(exercises, too_high, max_abstained=0.0) == 0.6


def test_motion_energy_on_real_clips_holds_reps_and_no_person(shared_data, mediapipe_pose):
    from gym_gesture.pose.sequence import extract_clip

    def energy_and_detection(name):
        sequence = extract_clip(shared_data / "videos" / name, mediapipe_pose)
        return motion_energy(sequence.keypoints, sequence.layout), sequence.detection_rate

    plank, _ = energy_and_detection("plank_00.mp4")
    squat, _ = energy_and_detection("squat_00.mp4")
    push_up, _ = energy_and_detection("push_up_wrong94.mp4")
    dark, detected = energy_and_detection("push_up_correct71.mp4")  # too dark: no person found
    assert plank < 0.05 < min(squat, push_up)
    assert abstain_reason(1.0, 0.9, plank, "squat").startswith("no exercise motion")
    assert abstain_reason(1.0, 0.9, push_up, "push up") is None
    assert abstain_reason(detected, 0.9, dark, "push up").startswith("no person found")


@pytest.mark.parametrize("clip, shape, measure", [("walking.mp4", "landscape 16:9", "walking"),
                                                   ("plank.mp4", "portrait 9:16", "motion")])
def test_motion_and_walking_read_the_body_in_its_own_proportions_whatever_the_frame(clip, shape, measure,
                                                                                     mediapipe_pose):
    """A real person walking across a portrait clip, and a real plank hold filmed in landscape (the package's
    examples, MediaPipe), each also seen in a frame of the other shape (the same person with room beside or
    above them, as `benchmarks.frame_shape` places them): the walking speed and motion that abstaining reads
    are the same. Read on x / width and y / height, as before, the walk was no walk in the landscape frame
    and the plank moved a third less in the portrait one."""
    from benchmarks.frame_shape import SHAPES, in_frame_of_shape
    from gym_gesture.analysis.abstain import span_sample
    from gym_gesture.pose.sequence import extract_clip

    sequence = extract_clip(EXAMPLES_DIR / clip, mediapipe_pose, 10.0)
    placed, framed = in_frame_of_shape(sequence.keypoints, sequence.frame_size, SHAPES[shape])
    assert framed != sequence.frame_size

    def measured(keypoints, frame_size) -> float:
        sample = span_sample(keypoints, sequence.layout, sequence.fps, sequence.detected, 0.0, len(keypoints) / 10.0,
                             "squat", 0.9, frame_size=frame_size)
        return getattr(sample, measure)

    as_filmed = measured(sequence.keypoints, sequence.frame_size)
    assert as_filmed > {"walking": 0.3, "motion": 0.0}[measure]
    assert measured(placed, framed) == pytest.approx(as_filmed, rel=1e-4)
    on_frame_axes = measured(sequence.keypoints, None), measured(placed, None)
    assert on_frame_axes[1] < 0.7 * on_frame_axes[0]


def test_motion_energy_of_openpose_clips_that_miss_single_joints(shared_data):
    """OpenPose misses a joint or two in most frames of the Pose Trainer archive: the motion of its real
    curls and presses is measured from the joints it found, as for MediaPipe clips, never NaN (which
    abstained on every such clip as "no exercise motion")."""
    dataset = load_pose_datasets(shared_data / "keypoints" / "posetrainer_openpose18.npz")[0].with_format("numpy")
    rows = [row for row in dataset if row["label"] in ("barbell biceps curl", "shoulder press")][:8]
    assert all(not np.isfinite(row["keypoints"]).all(axis=(1, 2)).any() for row in rows[:2])  # no frame complete
    energies = [motion_energy(row["keypoints"][..., :2], str(row["layout"])) for row in rows]
    assert np.isfinite(energies).all() and min(energies) > 0.02, energies
    # The same clip with one more joint lost now and then moves as much.
    damaged = rows[0]["keypoints"][..., :2].copy()
    damaged[::3, 4] = np.nan
    assert motion_energy(damaged, str(rows[0]["layout"])) == pytest.approx(energies[0], rel=0.1)


def test_workout_timeline_counts_reps_per_segment_on_real_clips(shared_data, mediapipe_pose):
    """Three real clips back to back as one workout: push ups, a squat, a plank. The windows' probabilities
    stand in for the model's (they favor the clip each window's center falls in); reps, motion and form
    come from real MediaPipe keypoints."""
    from gym_gesture.analysis.form import FEATURES, FormModel
    from gym_gesture.pose.sequence import extract_clip
    from gym_gesture.analysis.verdict import describe_segments

    clips = [("push_up_wrong94.mp4", "push up", 3), ("squat_04.mp4", "squat", 1), ("plank_01.mp4", "plank", 0)]
    sequences = [extract_clip(shared_data / "videos" / name, mediapipe_pose) for name, _, _ in clips]
    fps = sequences[0].fps
    keypoints = np.concatenate([s.keypoints for s in sequences])
    detected = np.concatenate([s.detected for s in sequences])
    clip_ends = np.cumsum([len(s) for s in sequences]) / fps

    starts = np.arange(0, len(keypoints) / fps - 1.0 + 1e-9, 0.5)
    ends = starts + 1.0
    truth = np.searchsorted(clip_ends, (starts + ends) / 2, side="right")
    probabilities = np.full((len(starts), len(LABELS)), 0.05)
    probabilities[np.arange(len(starts)), [LABELS.index(clips[i][1]) for i in truth]] = 0.9

    segments = segments_from_windows(starts, ends, probabilities, LABELS, min_duration_s=1.0)
    described = describe_segments(segments, keypoints, sequences[0].layout, fps, detected,
                                  form_model=FormModel.load(DEFAULT_MODEL_DIR / FORM_MODEL_FILE))
    assert [d.exercise for d in described] == [exercise for _, exercise, _ in clips]
    assert [d.reps for d in described] == [reps for _, _, reps in clips]
    assert all(d.abstain is None for d in described)
    assert all(d.start <= t <= d.end for d in described for t in d.rep_times)
    assert set(described[0].form.angles) == set(FEATURES)
    assert described[1].form is None and described[2].form is None


def _sample(predicted="squat", probability=0.9, motion=0.3, walking=0.0, label=None):
    return AbstainSample(predicted, probability, 1.0, motion, walking, label)


def test_walking_is_a_reason_to_abstain():
    assert abstain_reason(1.0, 0.99, 0.3, "push up", walking=0.9).startswith("walking, not an exercise")
    assert abstain_reason(1.0, 0.99, 0.3, "push up", walking=float("nan")) is None  # too few frames to tell
    strict = AbstainThresholds(min_walk_speed=1.0)
    assert abstain_reason(1.0, 0.99, 0.3, "push up", walking=0.9, thresholds=strict) is None


def test_thresholds_come_from_the_models_calibration_json(tmp_path):
    assert AbstainThresholds.for_model(tmp_path) == AbstainThresholds()
    (tmp_path / "calibration.json").write_text('{"thresholds": {"min_probability": 0.7, "min_walk_speed": 0.3}}')
    assert AbstainThresholds.for_model(tmp_path) == AbstainThresholds(min_probability=0.7, min_walk_speed=0.3)


def test_walking_speed_of_a_person_walking_across_and_of_one_squatting():
    """Stick figures at 30 fps (image coordinates, torso 0.2): one walks sideways at one torso length per
    second swinging the legs in turn, one squats in place (hips down and up, feet planted)."""
    from gym_gesture.model.skeleton import get_layout

    index = get_layout("mediapipe33").index
    t = np.arange(90) / 30.0

    def figure(hip_x, hip_y, left_foot, right_foot):
        keypoints = np.zeros((len(t), 33, 3), np.float32)
        for side, foot in (("left", left_foot), ("right", right_foot)):
            keypoints[:, index[f"{side}_hip"], :2] = np.stack([hip_x, hip_y], 1)
            keypoints[:, index[f"{side}_shoulder"], :2] = np.stack([hip_x, hip_y - 0.2], 1)
            keypoints[:, index[f"{side}_ankle"], :2] = np.stack([foot, np.full(len(t), 0.9)], 1)
        keypoints[:, [index["left_ear"], index["right_ear"], index["nose"]], 1] = (hip_y - 0.3)[:, None]
        return keypoints

    step = 0.1 * np.sin(2 * np.pi * t)  # feet alternate once a second
    walk = 0.2 + 0.2 * t
    assert walking_speed(figure(walk, np.full(len(t), 0.5), walk + step, walk - step), "mediapipe33", 30.0) \
        == pytest.approx(1.0, rel=0.05)
    squat_y = 0.5 + 0.1 * (1 - np.cos(2 * np.pi * t / 1.5))
    feet = np.full(len(t), 0.5)
    assert walking_speed(figure(feet, squat_y, feet - 0.05, feet + 0.05), "mediapipe33", 30.0) == 0.0
    # the same walk sampled at 10 fps: the speed is per second, not per frame
    assert walking_speed(figure(walk, np.full(len(t), 0.5), walk + step, walk - step)[::3], "mediapipe33", 10.0) \
        == pytest.approx(1.0, rel=0.05)


def _segment(exercise, start, end, abstain=None):
    from gym_gesture.analysis.prediction import Segment
    from gym_gesture.analysis.abstain import abstention

    found = abstention(1.0, 0.3, 0.3, exercise) if abstain == "not sure" else None
    return Segment(exercise, start, end, 0.9, 2, 1, [], found.reason if found else None, None,
                   verdict=found.verdict if found else "exercise")


def test_every_abstain_reason_is_one_verdict_kind():
    from gym_gesture.analysis.abstain import abstention

    assert abstention(0.2, 0.9, 0.3, "squat").verdict == "no person"
    assert abstention(1.0, 0.99, 0.3, "push up", walking=0.9).verdict == "not an exercise"
    assert abstention(1.0, 0.9, 0.01, "squat").verdict == "not an exercise"
    assert abstention(1.0, 0.3, 0.3, "squat").verdict == "not sure"
    assert abstention(1.0, 0.9, 0.3, "squat") is None


def test_the_clip_and_its_segments_never_disagree():
    from gym_gesture.analysis.abstain import abstention
    from gym_gesture.analysis.verdict import MIN_SET_S, clip_verdict

    unsure = abstention(1.0, 0.45, 0.3, "push up")
    walking = abstention(1.0, 0.9, 0.3, "squat", walking=0.9)
    # A 7-s clip the model takes for a squat, then a push up, each sure on its own but the clip is not:
    # the clip is judged as a whole, and its segments say so too.
    wavering = [_segment("squat", 0.0, 3.2), _segment("push up", 3.2, 7.2)]
    verdict, segments = clip_verdict(wavering, unsure)
    assert (verdict.verdict, verdict.exercise, verdict.abstain) == ("not sure", None, unsure.reason)
    assert [(segment.exercise, segment.verdict, segment.abstain) for segment in segments] == [
        ("squat", "not sure", unsure.reason), ("push up", "not sure", unsure.reason)]
    # A workout: long sure sets of two exercises; its mean probability is low, its sets are named.
    workout = [_segment("squat", 0.0, 60.0), _segment("push up", 60.0, 100.0), _segment("plank", 100.0, 104.0, "not sure")]
    assert 40 > MIN_SET_S
    verdict, segments = clip_verdict(workout, unsure)
    assert (verdict.verdict, verdict.exercise, verdict.abstain) == ("exercise", "squat", None)
    assert segments == workout
    # A minute the model takes for a push up, a squat, a push up again, each sure on its own, only one
    # stretch as long as a set (a real tricep-dips clip of clips22): no workout, not sure.
    turns = [_segment("push up", 0.0, 15.0), _segment("squat", 15.0, 17.0), _segment("squat", 20.0, 28.0),
             _segment("push up", 30.0, 37.0), _segment("squat", 40.0, 49.0)]
    verdict, segments = clip_verdict(turns, unsure)
    assert (verdict.verdict, verdict.exercise) == ("not sure", None)
    assert {segment.verdict for segment in segments} == {"not sure"}
    # Walking through most of the clip: nothing in it is named.
    verdict, segments = clip_verdict(workout, walking)
    assert (verdict.verdict, verdict.exercise) == ("not an exercise", None)
    assert {segment.verdict for segment in segments} == {"not an exercise", "not sure"}
    # A clip named on its own with no segment named takes its longest segment's verdict.
    verdict, _ = clip_verdict([_segment("plank", 0.0, 4.0, "not sure")], None)
    assert verdict.verdict == "not sure" and verdict.exercise is None
    verdict, _ = clip_verdict([], None)
    assert verdict.verdict == "not sure"
