"""Skeleton layouts, conversion between them and normalisation, for the package.

The layouts (MediaPipe-33, COCO-17, OpenPose-18, Penn Action's 13 joints, Human3.6M-17), the conversions
and the normalisation are defined in `processing_gym_gesture`, the model's self-contained processor, so
that a Hub user's preprocessing and the package's are one implementation; this module re-exports them
and adds what only the package needs (joint angles, the mirror augmentation).

The canonical layout is Human3.6M-17 (`h36m17`), the native output of MMPose's 3D lifters; every other
layout converts into it, so a model trained on one source can be fed by any backend.
"""

from __future__ import annotations

import numpy as np

from .processing_gym_gesture import (  # noqa: F401 (re-exported)
    CANONICAL_LAYOUT,
    COCO17,
    H36M17,
    LAYOUTS,
    MEDIAPIPE33,
    NORMALIZATIONS,
    OPENPOSE18,
    PENN13,
    Layout,
    conversion_matrix,
    convert,
    get_layout,
    layouts_with_joint_count,
    normalize,
)


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at joint b (degrees) of the image-plane triangle a-b-c, per frame: arrays (..., >=2)."""
    u, v = a[..., :2] - b[..., :2], c[..., :2] - b[..., :2]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def mirror(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Left/right mirror of normalised keypoints (..., J, C): swap sides and negate x."""
    mirrored = keypoints[..., get_layout(layout).mirror_permutation, :].copy()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored
