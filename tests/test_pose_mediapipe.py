"""The MediaPipe backend on real clips: registry, output format, detection rate, agreement with the
reference keypoints of the push-up set."""

from __future__ import annotations

import numpy as np
import pytest

from gym_gesture.pose import POSE_BACKENDS, create_backend
from gym_gesture.pose.mediapipe_backend import MediaPipePose, landmark_model_path
from gym_gesture.pose.sequence import extract_clip
from gym_gesture.model.skeleton import get_layout
from gym_gesture.pose.video import read_frames

from conftest import FIXTURES

SQUAT_CLIP = FIXTURES / "squat_clip.mp4"


def test_registered_as_default_backend(mediapipe_pose):
    assert POSE_BACKENDS["mediapipe"] == "gym_gesture.pose.mediapipe_backend:MediaPipePose"
    assert isinstance(mediapipe_pose, MediaPipePose)
    assert mediapipe_pose.layout == "mediapipe33"
    assert get_layout(mediapipe_pose.layout).num_joints == 33


def test_frame_output_format(mediapipe_pose):
    mediapipe_pose.reset()
    image = next(read_frames(SQUAT_CLIP)).image
    pose = mediapipe_pose(image)
    assert pose.detected
    assert pose.keypoints.shape == (33, 3) and pose.keypoints.dtype == np.float32
    assert pose.scores.shape == (33,) and ((pose.scores >= 0) & (pose.scores <= 1)).all()
    # Image landmarks are normalized to the frame; image_points are the same in pixels.
    np.testing.assert_allclose(pose.image_points, pose.keypoints[:, :2] * [320, 180], rtol=1e-5)
    hips = pose.keypoints[[23, 24], :2]
    assert ((hips > 0) & (hips < 1)).all()
    # World landmarks: metres, centered between the hips.
    assert pose.world_keypoints.shape == (33, 3)
    assert np.abs(pose.world_keypoints[[23, 24]].mean(axis=0)).max() < 0.05
    assert 0.2 < np.linalg.norm(pose.world_keypoints[11] - pose.world_keypoints[23]) < 1.0


def test_no_person_gives_nan_keypoints_and_zero_scores(mediapipe_pose):
    mediapipe_pose.reset()
    pose = mediapipe_pose(np.full((180, 320, 3), 40, np.uint8))
    assert not pose.detected
    assert np.isnan(pose.keypoints).all() and np.isnan(pose.image_points).all()
    assert (pose.scores == 0).all()


def test_fixture_clip_person_found_and_reset_makes_runs_repeatable(mediapipe_pose):
    first = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=30)
    assert (len(first), first.width, first.height) == (75, 320, 180)
    assert (first.layout, first.backend, first.fps) == ("mediapipe33", "mediapipe", 30.0)
    assert first.detection_rate >= 0.9
    # A squat: the hips go down and come back up (image y grows downwards).
    hip_y = first.keypoints[:, [23, 24], 1].mean(axis=1)
    assert np.nanmax(hip_y) - np.nanmin(hip_y) > 0.1
    second = extract_clip(SQUAT_CLIP, mediapipe_pose, fps=30)
    np.testing.assert_array_equal(first.keypoints, second.keypoints)


def test_other_complexities_refused_offline():
    for complexity in (0, 2):
        if landmark_model_path(complexity).is_file():
            continue  # the model was put there by hand: then it is allowed
        with pytest.raises(ValueError, match=f"model_complexity={complexity} needs .*offline"):
            create_backend("mediapipe", model_complexity=complexity)
    with pytest.raises(ValueError, match="must be 0, 1 or 2"):
        create_backend("mediapipe", model_complexity=3)


@pytest.mark.parametrize("name", ["squat_04.mp4", "squat_07.mp4", "push_up_wrong44.mp4"])
def test_person_found_in_real_clips(shared_data, mediapipe_pose, name):
    sequence = extract_clip(shared_data / "videos" / name, mediapipe_pose, fps=30)
    assert sequence.detection_rate >= 0.9


def _best_alignment(ours: np.ndarray, reference: np.ndarray, max_shift: int = 15):
    """(shift, median |dx, dy|) over joints visible in the reference, at the frame shift that fits best."""
    best = None
    for shift in range(-max_shift, max_shift + 1):
        a, r = ours[max(0, shift):], reference[max(0, -shift):]
        n = min(len(a), len(r))
        a, r = a[:n], r[:n]
        visible = (r[..., 3] > 0.5) & np.isfinite(a[..., 0]) & np.isfinite(r[..., 0])
        if visible.sum() < 100:
            continue
        median = float(np.median(np.abs(a[..., :2] - r[..., :2])[visible]))
        if best is None or median < best[1]:
            best = (shift, median)
    return best


# The push-up archive's clips that MediaPipe 0.10.21 does not reproduce here, with why (measured: median
# |dx, dy| of the frame size at the best frame shift). On the other six the median is 0.0008-0.0017, about
# the float16 rounding of the reference.
REFERENCE_DIVERGENCES = {  # clip: (median measured, why; None: too little to compare)
    "correct134": (0.014, "another limb configuration locked on for part of the clip"),
    "correct61": (0.043, "a frame later (shift -1) and a detection threshold crossed"),
    "correct70": (0.022, "another limb configuration locked on for part of the clip"),
    "correct71": (None, "nobody found in most frames: under 100 joints to compare (predict abstains on it too)"),
}
REFERENCE_CLIPS = ("correct19", "correct46", "correct52", "correct84", "wrong44", "wrong94", *REFERENCE_DIVERGENCES)


@pytest.mark.parametrize("clip_id", REFERENCE_CLIPS)
def test_reproduces_reference_keypoints(shared_data, mediapipe_pose, clip_id):
    with np.load(shared_data / "keypoints" / "pushup_form_mediapipe33.npz") as archive:
        reference = archive[f"push up/{clip_id}"].astype(np.float32)
    sequence = extract_clip(shared_data / "videos" / f"push_up_{clip_id}.mp4", mediapipe_pose, fps=None)
    ours = np.concatenate([sequence.keypoints, sequence.scores[..., None]], axis=-1)
    assert len(ours) == len(reference)
    alignment = _best_alignment(ours, reference)
    if clip_id in REFERENCE_DIVERGENCES:  # apart as measured, so that a change either way shows
        measured, why = REFERENCE_DIVERGENCES[clip_id]
        if measured is None:
            assert alignment is None, why
        else:
            assert 0.005 < alignment[1] < 2 * measured, why
        return
    shift, median = alignment
    assert shift == 0
    assert median < 0.005
