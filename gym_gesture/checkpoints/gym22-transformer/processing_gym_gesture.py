"""Keypoints in, the model's windows out: the processor of a gym-gesture model (transformers layout).

Loaded with `AutoProcessor.from_pretrained(folder_or_hub_id, trust_remote_code=True)` beside the model:
it and the two modules it imports (`skeleton.py`: joint layouts, conversions, normalization;
`transforms.py`: the named transforms) import only numpy and transformers, and travel with the weights.
The package uses this same code (`gym_gesture.data.windows.windows_from_sequence`), so a Hub user's windows are
the package's windows.

    processor = AutoProcessor.from_pretrained("USER/gym-gesture", trust_remote_code=True)
    # landmarks: (T, 33, >=3), x / width and y / height as MediaPipe gives them, in frames of frame_size
    inputs = processor(landmarks, layout="mediapipe33", fps=30.0, frame_size=(1280, 720), return_tensors="pt")
    logits = model(**inputs).logits
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from transformers import BatchFeature, FeatureExtractionMixin

from .skeleton import CANONICAL_LAYOUT, IMAGE_SCALES, NORMALIZATIONS, get_layout, has_torso
from .transforms import (
    ClipKeypoints,
    ConvertLayout,
    FillGaps,
    Normalize,
    PadToLength,
    Resample,
    ScaleImagePlane,
    SlidingWindows,
    TrimMissing,
)

class GymGestureProcessor(FeatureExtractionMixin):
    r"""Turns the keypoints of one clip (or a list of clips) into the model's windows.

    Args:
        layout, num_channels: the model's joint layout and the channels it reads (x, y[, depth]).
        image_scale: the model's image plane (`GymGestureConfig.image_scale`): what `frame_size` scales to.
        sample_fps: the frame rate windows are sampled at. num_frames: frames per window.
        window_stride: frames between window starts. normalization: the per-window normalization.
        max_gap_seconds: gaps in the person's track up to this long are interpolated before windowing.
        min_present_fraction: a window needs the person in at least this share of its frames.

    Call: `processor(keypoints, layout="mediapipe33", fps=30.0, return_tensors="pt")` with keypoints
    (T, J, C) of one person in `layout` (extra channels such as MediaPipe's visibility are ignored), NaN
    in frames with no person; or a list of such arrays. Returns a `BatchFeature` of the model's inputs
    only, `keypoints` (N, num_frames, J, num_channels) and `attention_mask` (N, num_frames), so that
    `model(**processor(...))` runs. `frame_size=(width, height)` (or a list, one per clip) is the size of
    the frames whose x / width and y / height the keypoints are (as MediaPipe gives them): a model of
    `image_scale` "longer_side" reads both over the longer side. Without it the frame's size is unknown and
    they are read as they are, as the model was trained on archives that did not record it. With
    `return_spans=True` it also holds where the windows come from, which the model does not take (as a
    tokenizer's `return_offsets_mapping`): `spans` (N, 2), each window's start and end in seconds from its
    clip's first frame, and `clip_index` (N,) into the list given. `windows` gives the same of one clip as
    arrays.
    """

    model_input_names = ["keypoints", "attention_mask"]

    def __init__(self, layout: str = CANONICAL_LAYOUT, num_channels: int = 3, sample_fps: float = 30.0,
                 num_frames: int = 60, window_stride: int = 15, normalization: str = "hip_center_torso_scale",
                 image_scale: str = "frame_axes", max_gap_seconds: float = 0.3, min_present_fraction: float = 0.5,
                 **kwargs):
        super().__init__(**kwargs)
        get_layout(layout)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; known: {', '.join(NORMALIZATIONS)}")
        if image_scale not in IMAGE_SCALES:
            raise ValueError(f"unknown image_scale {image_scale!r}; known: {', '.join(IMAGE_SCALES)}")
        self.layout, self.num_channels, self.sample_fps = layout, int(num_channels), float(sample_fps)
        self.num_frames, self.window_stride, self.normalization = int(num_frames), int(window_stride), normalization
        self.image_scale = image_scale
        self.max_gap_seconds, self.min_present_fraction = float(max_gap_seconds), float(min_present_fraction)

    @classmethod
    def from_model_config(cls, config, **kwargs) -> "GymGestureProcessor":
        """The processor that feeds the model of `config` (a GymGestureConfig)."""
        return cls(layout=config.layout, num_channels=config.num_channels, sample_fps=config.sample_fps,
                   num_frames=config.num_frames, window_stride=config.window_stride,
                   normalization=config.normalization, image_scale=config.image_scale, **kwargs)

    def sequence_transforms(self) -> list:
        return [ConvertLayout(self.layout, self.num_channels), ScaleImagePlane(self.image_scale), TrimMissing(),
                FillGaps(self.max_gap_seconds), Resample(self.sample_fps)]

    def window_transforms(self) -> list:
        return [FillGaps(None), Normalize(self.normalization), PadToLength(self.num_frames)]

    def windows(self, keypoints: np.ndarray, layout: str, fps: float, stride: int | None = None,
                frame_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keypoints (N, T, J, C) float32, attention_mask (N, T) int64, spans (N, 2) seconds) of one clip;
        N = 0 when the person is missing in most frames of every window. `stride` overrides `window_stride`;
        `frame_size`: as in `__call__`."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        sequence = ClipKeypoints(keypoints, layout, float(fps), frame_size=frame_size)
        for transform in self.sequence_transforms():
            sequence = transform(sequence)
        windows, masks, spans = [], [], []
        for start, size in SlidingWindows(self.num_frames, stride or self.window_stride, self.min_present_fraction)(sequence):
            # Recurrent fusions need the valid frames first, so the few long holes left are filled rather
            # than masked.
            window = replace(sequence, keypoints=sequence.keypoints[start:start + size])
            if not has_torso(window.keypoints, self.layout):  # no body to normalize: as if nobody were there
                continue
            for transform in self.window_transforms():
                window = transform(window)
            padded, mask = window
            windows.append(padded)
            masks.append(mask)
            spans.append((sequence.start_s + start / self.sample_fps, sequence.start_s + (start + size) / self.sample_fps))
        if not windows:
            num_joints = get_layout(self.layout).num_joints
            return (np.zeros((0, self.num_frames, num_joints, self.num_channels), np.float32),
                    np.zeros((0, self.num_frames), np.int64), np.zeros((0, 2)))
        return np.stack(windows), np.stack(masks), np.array(spans)

    def __call__(self, keypoints, layout: str, fps: float | list[float], return_tensors=None,
                 stride: int | None = None, return_spans: bool = False,
                 frame_size=None) -> BatchFeature:
        clips = list(keypoints) if isinstance(keypoints, (list, tuple)) else [keypoints]
        rates = list(fps) if isinstance(fps, (list, tuple)) else [fps] * len(clips)
        if len(rates) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(rates)} frame rates")
        sizes = [frame_size] * len(clips) if frame_size is None or np.ndim(frame_size) == 1 else list(frame_size)
        if len(sizes) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(sizes)} frame sizes")
        parts = [self.windows(np.asarray(clip), layout, rate, stride, None if size is None else tuple(size))
                 for clip, rate, size in zip(clips, rates, sizes)]
        data = {
            "keypoints": np.concatenate([part[0] for part in parts]),
            "attention_mask": np.concatenate([part[1] for part in parts]),
        }
        if return_spans:
            data["spans"] = np.concatenate([part[2] for part in parts])
            data["clip_index"] = np.concatenate([np.full(len(part[0]), i, np.int64) for i, part in enumerate(parts)])
        return BatchFeature(data=data, tensor_type=return_tensors)


GymGestureProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["GymGestureProcessor"]
