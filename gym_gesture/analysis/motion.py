"""How a body moves over a stretch of frames: how much (`motion_energy`) and whether it walks across the
frame (`walking_speed`: the hips travel sideways while the legs swing in opposite phase, which no exercise
done in place does). The abstain decision (`abstain.abstention`) reads both, on the body in its own
proportions (`in_proportion`), so that the shape of the frame does not change them."""

from __future__ import annotations

import numpy as np

from ..model.skeleton import convert, get_layout, image_plane_in_scale, normalize

# `walking_speed` looks at stretches of this many seconds (a couple of steps), a quarter of one apart.
WALK_STRETCH_S = 2.0
# Walking swings the legs in opposite phase: the ankles' sideways offsets from the hips are
# anti-correlated and their difference swings by a good part of a torso length. Exercises done in
# place keep the feet together or planted (correlation near +1); these two are not calibrated.
WALK_MAX_ANKLE_CORRELATION = -0.2
WALK_MIN_LEG_SWING = 0.3  # torso lengths, standard deviation of the left-right ankle offset


def in_proportion(keypoints: np.ndarray, frame_size: tuple[int, int] | None) -> np.ndarray:
    """Keypoints (T, J, C) of x / width and y / height (the first two channels) with both over the frame's
    longer side, the other channels as they are: the body in its own proportions, whatever the frame's
    shape (in x / width and y / height, a landscape clip seen in a portrait frame moves a third as far
    sideways, in torso lengths). As they are where the frame's size is unknown (None)."""
    if frame_size is None:
        return keypoints
    placed = np.array(keypoints, dtype=np.float32)
    placed[..., :2] = image_plane_in_scale(placed, int(frame_size[0]), int(frame_size[1]), "longer_side")
    return placed


def motion_energy(keypoints: np.ndarray, layout: str) -> float:
    """How much the body moves: mean over joints of the standard deviation over time of the joint's
    normalized position (torso lengths, hips centered). Someone standing still scores ~0.01 (jitter);
    a rep moves the working joints by about a torso length. NaN when no frame has a person. A joint
    missing in a frame (OpenPose and Penn Action miss single joints in most frames) is left out of its
    joint's spread only, not the whole frame."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    present = np.isfinite(keypoints).any(axis=(1, 2))
    if present.sum() < 2:
        return float("nan")
    try:
        normalized = normalize(keypoints[present], layout)[..., :2]
    except ValueError:
        return float("nan")
    seen = np.isfinite(normalized).sum(axis=0) >= 2
    return float(np.nanstd(normalized[:, seen], axis=0).mean()) if seen.any() else float("nan")


def walking_stretches(keypoints: np.ndarray, layout: str, fps: float) -> np.ndarray:
    """Per stretch of `WALK_STRETCH_S` seconds (the whole sequence when shorter): the hip center's
    sideways speed in torso lengths per second (slope of a line fitted to its x over time) where the
    legs swing in opposite phase (`WALK_MAX_ANKLE_CORRELATION`, `WALK_MIN_LEG_SWING`), else 0.
    Frames with no person are left out. Empty when fewer than three frames have a person."""
    index = get_layout("h36m17").index
    body = convert(np.asarray(keypoints, dtype=np.float32)[..., :2], layout, "h36m17")
    body = body[np.isfinite(body).all(axis=(1, 2))]
    if len(body) < 3:
        return np.zeros(0)
    hips, thorax = body[:, index["pelvis"]], body[:, index["thorax"]]
    torso = np.linalg.norm(thorax - hips, axis=-1)
    torso = float(np.median(torso[torso > 1e-6])) if (torso > 1e-6).any() else 1.0
    ankles = (body[:, [index["left_ankle"], index["right_ankle"]], 0] - hips[:, None, 0]) / torso
    length = min(len(body), max(3, int(round(WALK_STRETCH_S * fps))))
    step = max(1, length // 4)
    seconds = np.arange(length) / fps
    speeds = []
    for start in range(0, len(body) - length + 1, step):
        left, right = ankles[start:start + length].T
        swing = float(np.std(left - right))
        alternating = (swing >= WALK_MIN_LEG_SWING and left.std() > 0 and right.std() > 0
                       and np.corrcoef(left, right)[0, 1] <= WALK_MAX_ANKLE_CORRELATION)
        speeds.append(abs(np.polyfit(seconds, hips[start:start + length, 0] / torso, 1)[0]) if alternating else 0.0)
    return np.asarray(speeds)


def walking_speed(keypoints: np.ndarray, layout: str, fps: float) -> float:
    """How fast the person walks across the frame: the median over `walking_stretches` (torso lengths
    per second; 0 when the legs do not alternate in most stretches). Walking across a room is well
    over half a torso length per second; a squat or a push up, whose hips come back where they were
    and whose feet stay put, scores 0. NaN when fewer than three frames have a person.

    Sideways only: walking straight towards or away from the camera is not caught here."""
    speeds = walking_stretches(keypoints, layout, fps)
    return float(np.median(speeds)) if len(speeds) else float("nan")
