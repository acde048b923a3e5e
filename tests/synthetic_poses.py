"""Synthetic MediaPipe-33 exercise clips with a real class signal, written in the shared `.npz` format.

Each class moves different body parts periodically (squat: the body goes down and up, bending the
knees; lateral raises: the arms go up and down sideways; russian twist: the shoulders rotate about the
spine), with random period, amplitude, position, size, noise and missing frames, so a classifier has
to learn the motion, not a constant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gym_gesture.model.skeleton import MEDIAPIPE33

CLASSES = ("squat", "lateral raises", "russian twist")

_BASE = {
    "nose": (0.50, 0.18), "left_eye_inner": (0.51, 0.17), "left_eye": (0.52, 0.17), "left_eye_outer": (0.53, 0.17),
    "right_eye_inner": (0.49, 0.17), "right_eye": (0.48, 0.17), "right_eye_outer": (0.47, 0.17),
    "left_ear": (0.54, 0.18), "right_ear": (0.46, 0.18), "mouth_left": (0.51, 0.21), "mouth_right": (0.49, 0.21),
    "left_shoulder": (0.58, 0.30), "right_shoulder": (0.42, 0.30), "left_elbow": (0.60, 0.42),
    "right_elbow": (0.40, 0.42), "left_wrist": (0.61, 0.53), "right_wrist": (0.39, 0.53),
    "left_pinky": (0.61, 0.56), "right_pinky": (0.39, 0.56), "left_index": (0.61, 0.56),
    "right_index": (0.39, 0.56), "left_thumb": (0.60, 0.55), "right_thumb": (0.40, 0.55),
    "left_hip": (0.55, 0.55), "right_hip": (0.45, 0.55), "left_knee": (0.55, 0.72), "right_knee": (0.45, 0.72),
    "left_ankle": (0.55, 0.90), "right_ankle": (0.45, 0.90), "left_heel": (0.55, 0.92),
    "right_heel": (0.45, 0.92), "left_foot_index": (0.57, 0.93), "right_foot_index": (0.43, 0.93),
}
_INDEX = MEDIAPIPE33.index
_UPPER = [_INDEX[name] for name in MEDIAPIPE33.joints
          if not any(part in name for part in ("hip", "knee", "ankle", "heel", "foot"))]
_ARM = {side: [_INDEX[f"{side}_{part}"] for part in ("elbow", "wrist", "pinky", "index", "thumb")]
        for side in ("left", "right")}


def synthetic_clip(label: str, frames: int, rng: np.random.Generator, missing: bool = True) -> np.ndarray:
    """(frames, 33, 4) float32 MediaPipe (x, y, z, visibility), NaN where the person is missing."""
    base = np.array([_BASE[name] for name in MEDIAPIPE33.joints], dtype=np.float32)
    time = np.arange(frames) / 30.0
    phase = 2 * np.pi * time / rng.uniform(1.5, 3.0) + rng.uniform(0, 2 * np.pi)
    motion = (0.5 - 0.5 * np.cos(phase))[:, None] * rng.uniform(0.7, 1.3)
    points = np.repeat(base[None], frames, axis=0)
    if label == "squat":
        points[:, _UPPER, 1] += 0.15 * motion
        for side, sign in (("left", 1), ("right", -1)):
            points[:, [_INDEX[f"{side}_hip"]], 1] += 0.15 * motion
            points[:, [_INDEX[f"{side}_knee"]], 0] += sign * 0.06 * motion
            points[:, [_INDEX[f"{side}_knee"]], 1] += 0.05 * motion
    elif label == "lateral raises":
        for side, sign in (("left", 1), ("right", -1)):
            shoulder = base[_INDEX[f"{side}_shoulder"]]
            offset = points[:, _ARM[side]] - shoulder
            angle = sign * (np.pi / 2) * motion[:, :, None]  # arms rotate up, sideways
            cos, sin = np.cos(angle), np.sin(angle)
            rotated = np.stack([cos[..., 0] * offset[..., 0] - sin[..., 0] * offset[..., 1],
                                sin[..., 0] * offset[..., 0] + cos[..., 0] * offset[..., 1]], axis=-1)
            points[:, _ARM[side]] = shoulder + rotated
    elif label == "russian twist":
        twist = np.sin(phase)[:, None] * rng.uniform(0.04, 0.07)
        for side, sign in (("left", 1), ("right", -1)):
            points[:, [_INDEX[f"{side}_shoulder"]] + _ARM[side], 0] += twist
            points[:, [_INDEX[f"{side}_shoulder"]] + _ARM[side], 1] += sign * 0.3 * twist
    else:
        raise ValueError(f"no synthetic motion for {label!r}")
    scale, shift = rng.uniform(0.7, 1.2), rng.uniform(-0.1, 0.1, 2)
    points = (points - 0.5) * scale + 0.5 + shift + rng.normal(0, 0.004, points.shape)
    depth = rng.normal(0, 0.02, (frames, 33, 1))
    visibility = rng.uniform(0.8, 1.0, (frames, 33, 1))
    clip = np.concatenate([points, depth, visibility], axis=-1).astype(np.float32)
    if missing:
        clip[: rng.integers(0, 10)] = np.nan  # the person walks in ...
        gap = rng.integers(10, max(frames - 10, 11))
        clip[gap:gap + rng.integers(1, 6)] = np.nan  # ... and is lost for a few frames
    return clip


def write_synthetic_npz(path: Path, sources_per_class: int = 12, classes=CLASSES, seed: int = 0) -> Path:
    """An archive in the `../shared/data/keypoints` format; every other source is cut into two clips
    (`squat_3`, `squat_3_1`), as in the real gym set."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for label in classes:
        stem = label.replace(" ", "_")
        for source in range(sources_per_class):
            parts = 2 if source % 2 else 1
            for part in range(parts):
                clip_id = f"{stem}_{source}" + (f"_{part}" if part else "")
                arrays[f"{label}/{clip_id}"] = synthetic_clip(label, int(rng.integers(60, 200)), rng).astype(np.float16)
    np.savez_compressed(path, **arrays)
    return path
