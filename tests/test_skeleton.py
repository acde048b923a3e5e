"""Skeleton layouts on real MediaPipe keypoints: conversion to H36M-17, mirror, normalization."""

from __future__ import annotations

import numpy as np
import pytest

from gym_gesture.pose.sequence import extract_clip
from gym_gesture.model import skeleton
from gym_gesture.model.skeleton import COCO17, H36M17, MEDIAPIPE33, LAYOUTS, convert, mirror, normalize

from conftest import FIXTURES


@pytest.fixture(scope="module")
def real_keypoints(mediapipe_pose):
    """(T, 33, 3) MediaPipe image landmarks of the squat fixture at 10 fps, two frames blanked."""
    keypoints = extract_clip(FIXTURES / "squat_clip.mp4", mediapipe_pose, fps=10).keypoints.copy()
    assert np.isfinite(keypoints).all()
    keypoints[[3, 7]] = np.nan
    return keypoints


def _joint(keypoints, layout, name):
    return keypoints[:, layout.index[name]]


def test_layout_bones_name_known_joints():
    for layout in LAYOUTS.values():
        assert len(set(layout.joints)) == layout.num_joints
        assert all(0 <= a < layout.num_joints and 0 <= b < layout.num_joints for a, b in layout.bone_indices)


def test_mediapipe_to_h36m(real_keypoints):
    h36m = convert(real_keypoints, "mediapipe33")
    assert h36m.shape == (len(real_keypoints), 17, 3)
    mp = MEDIAPIPE33
    hips = (_joint(real_keypoints, mp, "left_hip") + _joint(real_keypoints, mp, "right_hip")) / 2
    shoulders = (_joint(real_keypoints, mp, "left_shoulder") + _joint(real_keypoints, mp, "right_shoulder")) / 2
    np.testing.assert_allclose(_joint(h36m, H36M17, "pelvis"), hips, atol=1e-6)
    np.testing.assert_allclose(_joint(h36m, H36M17, "thorax"), shoulders, atol=1e-6)
    np.testing.assert_allclose(_joint(h36m, H36M17, "spine"), (hips + shoulders) / 2, atol=1e-6)
    for name in ("left_knee", "right_wrist", "left_ankle", "right_shoulder"):
        np.testing.assert_array_equal(_joint(h36m, H36M17, name), _joint(real_keypoints, mp, name))
    # The spine lies between pelvis and thorax; the head above the thorax (image y grows downwards).
    ok = np.isfinite(h36m[:, 0, 0])
    assert (_joint(h36m, H36M17, "head")[ok, 1] < _joint(h36m, H36M17, "thorax")[ok, 1]).all()
    # Frames with no person stay missing, others are complete.
    assert np.isnan(h36m[[3, 7]]).all() and np.isfinite(np.delete(h36m, [3, 7], axis=0)).all()


def test_coco_and_mediapipe_agree_in_h36m(real_keypoints):
    coco = real_keypoints[:, [MEDIAPIPE33.index[name] for name in COCO17.joints]]
    np.testing.assert_allclose(convert(coco, "coco17"), convert(real_keypoints, "mediapipe33"), atol=1e-6)
    # A single missing joint spreads only into the joints derived from it.
    coco[:, COCO17.index["left_hip"]] = np.nan
    missing = np.isnan(convert(coco, "coco17")[0]).any(axis=-1)
    assert [H36M17.joints[i] for i in np.flatnonzero(missing)] == ["pelvis", "left_hip", "spine"]
    with pytest.raises(ValueError, match="layout 'coco17' has 17 joints"):
        convert(real_keypoints, "coco17")


def test_mirror_swaps_sides_and_negates_x(real_keypoints):
    for layout, keypoints in (("mediapipe33", real_keypoints), ("h36m17", convert(real_keypoints, "mediapipe33"))):
        normalized = normalize(keypoints, layout)
        mirrored = mirror(normalized, layout)
        index = LAYOUTS[layout].index
        np.testing.assert_array_equal(mirrored[:, index["left_knee"], 0], -normalized[:, index["right_knee"], 0])
        np.testing.assert_array_equal(mirrored[:, index["right_wrist"], 1:], normalized[:, index["left_wrist"], 1:])
        np.testing.assert_array_equal(mirror(mirrored, layout), normalized)
    h36m = normalize(convert(real_keypoints, "mediapipe33"), "h36m17")
    np.testing.assert_array_equal(mirror(h36m, "h36m17")[:, 0, 0], -h36m[:, 0, 0])  # pelvis stays pelvis


def test_normalize_centers_hips_and_scales_torso(real_keypoints):
    normalized = normalize(real_keypoints, "mediapipe33")
    mp = MEDIAPIPE33
    hips = (_joint(normalized, mp, "left_hip") + _joint(normalized, mp, "right_hip")) / 2
    shoulders = (_joint(normalized, mp, "left_shoulder") + _joint(normalized, mp, "right_shoulder")) / 2
    np.testing.assert_allclose(np.nanmean(hips, axis=0), 0, atol=1e-5)
    torso = np.linalg.norm((shoulders - hips)[:, :2], axis=-1)
    assert np.nanmedian(torso) == pytest.approx(1.0, abs=1e-5)
    assert np.isnan(normalized[[3, 7]]).all()
    # Independent of where the person stands and of the picture's scale.
    moved = normalize(real_keypoints * 2.5 + np.array([0.3, -0.2, 0.1], np.float32), "mediapipe33")
    np.testing.assert_allclose(moved, normalized, atol=1e-4)
    with pytest.raises(ValueError, match="no frame has both hips"):
        normalize(np.full_like(real_keypoints, np.nan), "mediapipe33")


def test_a_derived_joint_falls_back_where_a_better_way_is_missing():
    """OpenPose loses the ears in many frames, not the head: H36M's head then comes from the eyes, then
    the nose, frame by frame; a frame with the ears keeps the mean of the ears."""
    from gym_gesture.model.skeleton import OPENPOSE18

    frames = np.random.default_rng(0).normal(size=(3, 18, 2)).astype(np.float32)
    index = OPENPOSE18.index
    frames[1, index["left_ear"]] = np.nan
    frames[2, [index["left_ear"], index["right_eye"]]] = np.nan
    head = skeleton.convert(frames, "openpose18", "h36m17")[:, skeleton.H36M17.index["head"]]
    np.testing.assert_allclose(head[0], frames[0, [index["left_ear"], index["right_ear"]]].mean(0), rtol=1e-6)
    np.testing.assert_allclose(head[1], frames[1, [index["left_eye"], index["right_eye"]]].mean(0), rtol=1e-6)
    np.testing.assert_allclose(head[2], frames[2, index["nose"]], rtol=1e-6)


def test_penn_head_stands_in_for_the_nose():
    frames = np.random.default_rng(1).normal(size=(2, 13, 2)).astype(np.float32)
    converted = skeleton.convert(frames, "penn13", "h36m17")
    h36m = skeleton.H36M17.index
    np.testing.assert_allclose(converted[:, h36m["neck"]], frames[:, skeleton.PENN13.index["head"]])
    np.testing.assert_allclose(converted[:, h36m["head"]], frames[:, skeleton.PENN13.index["head"]])


def test_graph_partitions_point_inward_to_the_spine_and_average_neighbours():
    partitions = skeleton.graph_partitions("h36m17")
    index = H36M17.index
    root, inward, outward = partitions
    np.testing.assert_array_equal(root, np.eye(17))
    assert inward[index["left_wrist"], index["left_elbow"]] > 0 and inward[index["left_elbow"], index["left_wrist"]] == 0
    assert inward[index["pelvis"], index["spine"]] > 0 and inward[index["thorax"], index["spine"]] > 0
    np.testing.assert_array_equal(outward > 0, (inward > 0).T)
    for partition in (inward, outward):  # each joint with a neighbor averages over them
        sums = partition.sum(axis=0)
        assert set(np.round(sums, 6)) <= {0.0, 1.0}
    assert (inward + outward > 0).sum() == 2 * len(H36M17.bones)


def test_graph_partitions_cover_every_bone_of_every_layout():
    for name, layout in LAYOUTS.items():
        partitions = skeleton.graph_partitions(name)
        linked = (partitions > 0).any(axis=0)
        assert all(linked[a, b] and linked[b, a] for a, b in layout.bone_indices), name


def test_the_hands_and_feet_layout_reads_mediapipes_hand_and_foot_points(real_keypoints):
    """`h36m17_hands_feet` is H36M-17 plus MediaPipe's index, pinky, heel and foot index, as MediaPipe saw
    them; a source without them (COCO) gives a hand or foot of no size, at the wrist and the ankle."""
    layout = skeleton.H36M17_HANDS_FEET
    converted = convert(real_keypoints, "mediapipe33", layout.name)
    assert converted.shape == (len(real_keypoints), 25, 3)
    np.testing.assert_array_equal(converted[:, :17], convert(real_keypoints, "mediapipe33"))
    for name in ("left_index", "right_pinky", "left_heel", "right_foot_index"):
        np.testing.assert_array_equal(_joint(converted, layout, name), _joint(real_keypoints, MEDIAPIPE33, name))
    present = np.isfinite(converted[:, 0, 0])
    # Standing and squatting in side view, the heel is below the ankle and the toes ahead of the heel.
    heel, ankle = _joint(converted, layout, "left_heel")[present], _joint(converted, layout, "left_ankle")[present]
    assert (heel[:, 1] > ankle[:, 1]).mean() > 0.9
    assert np.median(np.linalg.norm(_joint(converted, layout, "left_foot_index")[present, :2] - heel[:, :2], axis=-1)) > 0.01
    mirrored = mirror(normalize(converted, layout.name), layout.name)
    np.testing.assert_array_equal(mirrored[:, layout.index["left_index"], 1],
                                  normalize(converted, layout.name)[:, layout.index["right_index"], 1])

    coco = real_keypoints[:, [MEDIAPIPE33.index[name] for name in COCO17.joints]]
    from_coco = convert(coco, "coco17", layout.name)
    np.testing.assert_allclose(from_coco[:, :17], converted[:, :17], atol=1e-6)
    for side in ("left", "right"):
        for point, parent in (("index", "wrist"), ("pinky", "wrist"), ("heel", "ankle"), ("foot_index", "ankle")):
            np.testing.assert_array_equal(_joint(from_coco, layout, f"{side}_{point}"),
                                          _joint(coco, COCO17, f"{side}_{parent}"))
