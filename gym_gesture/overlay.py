"""The skeleton drawn over the clip: bones and joints, low-confidence joints faded, an optional caption."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .pose.sequence import PoseSequence
from .skeleton import get_layout
from .video import VideoWriter, read_ahead, read_frames

# RGB colours by body side, so a mirrored or swapped skeleton is visible at a glance.
_LEFT = (255, 140, 0)
_RIGHT = (0, 160, 255)
_CENTRE = (230, 230, 230)
FADED_OPACITY = 0.3
MAX_OVERLAY_SIDE = 720
# A preview, not an archive: "superfast" encodes 720p about 2.5x faster than VideoWriter's "veryfast"
# for files about 2.5x larger at the same constant quality (crf 23), a few hundred kbit/s.
OVERLAY_PRESET = "superfast"


def _side_colour(*joints: str) -> tuple[int, int, int]:
    if all(joint.startswith("left_") for joint in joints):
        return _LEFT
    if all(joint.startswith("right_") for joint in joints):
        return _RIGHT
    return _CENTRE


def draw_pose(image: np.ndarray, image_points: np.ndarray, scores: np.ndarray, layout: str, *,
              min_score: float = 0.5, caption: str | None = None) -> np.ndarray:
    """A copy of `image` (RGB uint8) with the pose drawn on it.

    image_points (J, 2) are pixels (NaN: not drawn); joints scoring under `min_score`, and bones
    touching them, are drawn faded.
    """
    skeleton = get_layout(layout)
    if image_points.shape != (skeleton.num_joints, 2) or scores.shape != (skeleton.num_joints,):
        raise ValueError(f"layout {layout!r} has {skeleton.num_joints} joints, got points "
                         f"{image_points.shape} and scores {scores.shape}")
    height, width = image.shape[:2]
    thickness = max(2, round(min(height, width) / 200))
    radius = thickness + 1
    result = image.copy()
    drawn = np.isfinite(image_points).all(axis=1)
    if drawn.any():
        points = np.round(np.nan_to_num(image_points)).astype(np.int32)
        # Only the skeleton's bounding box changes (plus the strokes' reach, anti-aliasing included):
        # blending and comparing that box rather than the whole frame is most of the overlay's speed.
        reach = radius + 2
        left, top = np.maximum(points[drawn].min(axis=0) - reach, 0)
        right, bottom = np.minimum(points[drawn].max(axis=0) + reach + 1, (width, height))
        if left < right and top < bottom:
            box = (slice(top, bottom), slice(left, right))
            result[box] = _draw_skeleton(image[box], points - (left, top), drawn, drawn & (scores >= min_score),
                                         skeleton, thickness, radius)
    if caption:
        _draw_caption(result, caption)
    return result


def _draw_skeleton(image, points, drawn, confident, skeleton, thickness, radius) -> np.ndarray:
    """`image` with the bones and joints drawn: solid where `confident`, else faded."""
    solid, faded = image.copy(), image.copy()
    for (a, b), (name_a, name_b) in zip(skeleton.bone_indices, skeleton.bones):
        if drawn[a] and drawn[b]:
            layer = solid if confident[a] and confident[b] else faded
            cv2.line(layer, tuple(map(int, points[a])), tuple(map(int, points[b])), _side_colour(name_a, name_b),
                     thickness, cv2.LINE_AA)
    for joint, name in enumerate(skeleton.joints):
        if drawn[joint]:
            layer = solid if confident[joint] else faded
            cv2.circle(layer, tuple(map(int, points[joint])), radius, _side_colour(name), -1, cv2.LINE_AA)
    # Faded strokes are blended into the picture; solid ones are painted over them at full strength.
    result = cv2.addWeighted(faded, FADED_OPACITY, image, 1 - FADED_OPACITY, 0)
    changed = solid != image
    painted = changed[..., 0] | changed[..., 1] | changed[..., 2]  # numpy's any(axis=2) is several times slower
    np.copyto(result, solid, where=painted[..., None])
    return result


def _draw_caption(image: np.ndarray, caption: str) -> None:
    height = image.shape[0]
    scale = max(0.5, height / 720)
    thickness = max(1, round(2 * scale))
    (text_width, text_height), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    margin = round(8 * scale)
    cv2.rectangle(image, (0, 0), (text_width + 2 * margin, text_height + baseline + 2 * margin), (0, 0, 0), -1)
    cv2.putText(image, caption, (margin, margin + text_height), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)


def format_caption(label: str, score: float | None = None) -> str:
    return label if score is None else f"{label} {score:.0%}"


def render_overlay(video_path: str | Path, sequence: PoseSequence, out_path: str | Path, *,
                   caption: str | None = None, min_score: float = 0.5) -> Path:
    """Write `video_path` with `sequence` drawn over it as a browser-playable MP4 at the sequence's rate,
    at most 720p (larger frames are scaled down, so the short side is `MAX_OVERLAY_SIDE`).

    The clip is decoded again, resampled exactly as `extract_clip` did, so frame t of the video gets
    pose t of the sequence; frames stream through (decoded ahead in a thread), never all in memory.
    """
    out_path = Path(out_path)
    scale = min(1.0, MAX_OVERLAY_SIDE / min(sequence.width, sequence.height)) if len(sequence) else 1.0
    size = (round(sequence.width * scale), round(sequence.height * scale))
    with VideoWriter(out_path, sequence.fps, preset=OVERLAY_PRESET) as writer:
        for frame in read_ahead(read_frames(video_path, sequence.fps, max_duration=None, max_pixels=None)):
            if frame.index >= len(sequence):
                break
            image = frame.image if scale == 1.0 else cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            writer.write(draw_pose(image, sequence.image_points[frame.index] * scale,
                                   sequence.scores[frame.index], sequence.layout,
                                   min_score=min_score, caption=caption))
    return out_path
