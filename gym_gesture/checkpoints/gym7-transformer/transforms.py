"""The named transforms from a clip's keypoints to the model's windows, in the pyskl / mmaction2
vocabulary: ConvertLayout -> ScaleImagePlane -> TrimMissing -> FillGaps -> Resample -> SlidingWindows, then per window
FillGaps (all holes) -> Normalize -> PadToLength. `processing_gym_gesture.GymGestureProcessor` chains them.

Self-contained (numpy and `skeleton` only): it travels with a saved model as part of its processor's
remote code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .skeleton import convert, image_plane_in_scale, normalize

@dataclass
class ClipKeypoints:
    """One clip moving through the transforms: keypoints (T, J, C) in `layout` at `fps`, NaN in frames
    with no person; `start_s` is the time of the first frame in the original clip; `frame_size` (width,
    height) of the frames whose x / width and y / height the keypoints are, None where unknown."""

    keypoints: np.ndarray
    layout: str
    fps: float
    start_s: float = 0.0
    frame_size: tuple[int, int] | None = None


def present_frames(keypoints: np.ndarray) -> np.ndarray:
    """(T,) True where every joint of the frame is finite."""
    return np.isfinite(keypoints).all(axis=tuple(range(1, keypoints.ndim)))


def fill_gaps(keypoints: np.ndarray, max_gap: int | None) -> np.ndarray:
    """Linear interpolation over runs of missing frames of at most `max_gap` frames (all runs when None),
    joint by joint; runs before the first or after the last present value hold that value."""
    frames = keypoints.shape[0]
    if frames == 0:
        return keypoints
    flat = keypoints.reshape(frames, -1)
    valid = np.isfinite(flat)
    if valid.all() or not valid.any():
        return keypoints
    time = np.arange(frames)[:, None]
    previous = np.maximum.accumulate(np.where(valid, time, -1), axis=0)
    following = np.minimum.accumulate(np.where(valid, time, frames)[::-1], axis=0)[::-1]
    fill = ~valid & ((previous >= 0) | (following < frames))
    if max_gap is not None:
        fill &= (previous >= 0) & (following < frames) & (following - previous - 1 <= max_gap)
    before = np.clip(previous, 0, frames - 1)
    after = np.clip(following, 0, frames - 1)
    columns = np.arange(flat.shape[1])[None, :]
    value_before = np.where(previous >= 0, flat[before, columns], flat[after, columns])
    value_after = np.where(following < frames, flat[after, columns], value_before)
    span = np.maximum(following - previous, 1)
    weight = np.where((previous >= 0) & (following < frames), (time - previous) / span, 0.0)
    filled = flat.copy()
    filled[fill] = (value_before + weight * (value_after - value_before))[fill]
    return filled.reshape(keypoints.shape)


def resample(keypoints: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Linear resampling in time of (T, J, C) from `fps` to `target_fps`; NaN frames stay NaN."""
    if abs(fps - target_fps) < 1e-6 or len(keypoints) < 2:
        return keypoints
    count = int(np.floor((len(keypoints) - 1) * target_fps / fps)) + 1
    position = np.arange(count) * (fps / target_fps)
    before = np.floor(position).astype(int)
    after = np.minimum(before + 1, len(keypoints) - 1)
    weight = (position - before)[:, None, None]
    blended = keypoints[before] * (1 - weight) + keypoints[after] * weight
    # An exact hit on a frame must not pick up a NaN from its neighbor (0 * NaN = NaN).
    return np.where(weight == 0, keypoints[before], blended).astype(keypoints.dtype, copy=False)


@dataclass
class ConvertLayout:
    """Into the model's joint layout, keeping its first `num_channels` channels (x, y[, depth])."""

    layout: str
    num_channels: int

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        keypoints = np.asarray(sequence.keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[-1] < self.num_channels:
            raise ValueError(f"keypoints must be (frames, joints, >={self.num_channels}), got {keypoints.shape}")
        converted = convert(keypoints[..., :self.num_channels], sequence.layout, self.layout)
        return replace(sequence, keypoints=converted, layout=self.layout)


@dataclass
class ScaleImagePlane:
    """x / width and y / height into the model's `image_scale` (`skeleton.image_plane_in_scale`), for a
    2-channel model and a clip of known `frame_size`; else the keypoints as they are."""

    image_scale: str

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        if sequence.frame_size is None or sequence.keypoints.shape[-1] != 2:
            return sequence
        width, height = sequence.frame_size
        return replace(sequence, keypoints=image_plane_in_scale(sequence.keypoints, int(width), int(height),
                                                                self.image_scale))


@dataclass
class TrimMissing:
    """Drop the leading and trailing frames with no person (the clip's start time moves with them)."""

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        present = np.flatnonzero(present_frames(sequence.keypoints))
        if len(present) == 0:
            return replace(sequence, keypoints=sequence.keypoints[:0])
        return replace(sequence, keypoints=sequence.keypoints[present[0]:present[-1] + 1],
                       start_s=sequence.start_s + present[0] / sequence.fps)


@dataclass
class FillGaps:
    """Interpolate runs of missing frames up to `max_gap_seconds` long (every run when None)."""

    max_gap_seconds: float | None

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        max_gap = None if self.max_gap_seconds is None else int(round(self.max_gap_seconds * sequence.fps))
        return replace(sequence, keypoints=fill_gaps(sequence.keypoints, max_gap))


@dataclass
class Resample:
    """Linear resampling in time to `fps`."""

    fps: float

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        return replace(sequence, keypoints=resample(sequence.keypoints, sequence.fps, self.fps), fps=self.fps)


@dataclass
class SlidingWindows:
    """Windows of `num_frames` frames every `stride` frames, plus one ending on the clip's last frame; a
    clip shorter than a window gives one short window. Windows where the person is missing in more than
    `1 - min_present_fraction` of the frames are dropped. Returns (start, length) pairs."""

    num_frames: int
    stride: int
    min_present_fraction: float

    def __call__(self, sequence: ClipKeypoints) -> list[tuple[int, int]]:
        length = len(sequence.keypoints)
        if length == 0:
            return []
        starts = np.arange(0, max(length - self.num_frames, 0) + 1, self.stride)
        if length > self.num_frames and starts[-1] + self.num_frames < length:
            starts = np.append(starts, length - self.num_frames)  # the clip's last frames get a window too
        present = present_frames(sequence.keypoints)
        spans = [(int(start), int(min(length - start, self.num_frames))) for start in starts]
        return [(start, size) for start, size in spans if present[start:start + size].mean() >= self.min_present_fraction]


@dataclass
class Normalize:
    """`normalize` of one window (translation and body size removed)."""

    method: str

    def __call__(self, sequence: ClipKeypoints) -> ClipKeypoints:
        return replace(sequence, keypoints=normalize(sequence.keypoints, sequence.layout, self.method))


@dataclass
class PadToLength:
    """Zero-pad a window to `num_frames` frames; returns (keypoints, attention mask with the valid frames first)."""

    num_frames: int

    def __call__(self, sequence: ClipKeypoints) -> tuple[np.ndarray, np.ndarray]:
        valid = len(sequence.keypoints)
        padded = np.zeros((self.num_frames,) + sequence.keypoints.shape[1:], np.float32)
        padded[:valid] = sequence.keypoints
        mask = np.zeros(self.num_frames, np.int64)
        mask[:valid] = 1
        return padded, mask
