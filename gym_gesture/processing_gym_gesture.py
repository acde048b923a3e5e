"""Keypoints in, the model's windows out: joint layouts, named transforms and the processor.

Self-contained (numpy and transformers only), so `AutoProcessor.from_pretrained(folder_or_hub_id,
trust_remote_code=True)` loads it beside the model; the package uses this same code (`gym_gesture.skeleton`
and `gym_gesture.data` import from here), so a Hub user's windows are the package's windows.

    processor = AutoProcessor.from_pretrained("USER/gym-gesture", trust_remote_code=True)
    inputs = processor(landmarks, layout="mediapipe33", fps=30, return_tensors="pt")  # landmarks: (T, 33, >=3)
    logits = model(keypoints=inputs["keypoints"], attention_mask=inputs["attention_mask"]).logits

The pipeline, in the pyskl / mmaction2 vocabulary, one named transform a step:
ConvertLayout -> TrimMissing -> FillGaps -> Resample -> SlidingWindows, then per window
FillGaps (all holes) -> Normalize -> PadToLength.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from transformers import BatchFeature, FeatureExtractionMixin

# --- joint layouts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """An ordered list of joint names plus the bones drawn between them. Joint names are shared across
    layouts ("left_shoulder" is the same joint everywhere): that is what lets the conversions and the
    left/right mirror be derived rather than written out by hand."""

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "index", {joint: i for i, joint in enumerate(self.joints)})

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def bone_indices(self) -> list[tuple[int, int]]:
        return [(self.index[a], self.index[b]) for a, b in self.bones]

    @property
    def mirror_permutation(self) -> np.ndarray:
        """Joint order after a left/right mirror: `mirrored = keypoints[:, perm]` (then flip x)."""
        return np.array([self.index[_swap_side(joint)] for joint in self.joints])


def _swap_side(joint: str) -> str:
    for side, other in (("left_", "right_"), ("right_", "left_")):
        if joint.startswith(side):
            return other + joint[len(side):]
    return joint


_LIMBS = (
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
_TORSO = (("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"))
_FACE = (("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"))

MEDIAPIPE33 = Layout(
    "mediapipe33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    _LIMBS + _TORSO + (
        ("left_wrist", "left_index"), ("right_wrist", "right_index"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
    ) + _FACE,
)

COCO17 = Layout(
    "coco17",
    (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    _LIMBS + _TORSO + _FACE,
)

# OpenPose's COCO-18 model. Its "neck" keypoint sits between the shoulders, which is H36M's thorax: it is
# named so, and H36M's neck (the nose, see _DERIVED_H36M_JOINTS) stays the nose for every source.
OPENPOSE18 = Layout(
    "openpose18",
    (
        "nose", "thorax", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    _LIMBS + _TORSO + _FACE + (("thorax", "nose"),),
)

# Penn Action's 13 human-annotated joints: one "head" joint, no face.
PENN13 = Layout(
    "penn13",
    (
        "head", "right_shoulder", "left_shoulder", "right_elbow", "left_elbow", "right_wrist", "left_wrist",
        "right_hip", "left_hip", "right_knee", "left_knee", "right_ankle", "left_ankle",
    ),
    _LIMBS + _TORSO + (("head", "left_shoulder"), ("head", "right_shoulder")),
)

H36M17 = Layout(
    "h36m17",
    (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    (
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck"), ("neck", "head"),
        ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ),
)

CANONICAL_LAYOUT = "h36m17"
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (MEDIAPIPE33, COCO17, OPENPOSE18, PENN13, H36M17)}

# The H36M joints a source lacks, made from joints it has: each entry lists the ways to make it, best
# first; a joint is the mean of the first way whose joints the source has all of.
# The one place that says what stands in for a missing joint: H36M's "neck" is the nose in every source
# with a face; Penn Action annotates a single "head" joint and no face, so its head stands in for the nose.
_DERIVED_H36M_JOINTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pelvis": (("left_hip", "right_hip"),),
    "thorax": (("left_shoulder", "right_shoulder"),),
    "spine": (("left_hip", "right_hip", "left_shoulder", "right_shoulder"),),
    "neck": (("nose",), ("head",)),
    "head": (("left_ear", "right_ear"),),
}


def get_layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise ValueError(f"unknown joint layout {name!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def layouts_with_joint_count(num_joints: int) -> list[str]:
    """The layouts of `num_joints` joints: how an archive of unnamed (T, J, C) arrays is recognised."""
    return [name for name, layout in LAYOUTS.items() if layout.num_joints == num_joints]


def conversion_matrix(source: str, target: str = CANONICAL_LAYOUT) -> np.ndarray:
    """(J_target, J_source) weights: `converted = matrix @ keypoints` joint-wise."""
    src, dst = get_layout(source), get_layout(target)
    matrix = np.zeros((dst.num_joints, src.num_joints), dtype=np.float32)
    for row, joint in enumerate(dst.joints):
        ways = ((joint,),) + (_DERIVED_H36M_JOINTS.get(joint, ()) if target == "h36m17" else ())
        parents = next((way for way in ways if all(parent in src.index for parent in way)), None)
        if parents is None:
            raise ValueError(f"cannot convert layout {source!r} into {target!r}: no joint {joint!r}")
        for parent in parents:
            matrix[row, src.index[parent]] = 1.0 / len(parents)
    return matrix


def convert(keypoints: np.ndarray, source: str, target: str = CANONICAL_LAYOUT) -> np.ndarray:
    """Convert keypoints (..., J, C) from layout `source` into `target` (scores: pass `scores[..., None]`).
    A derived joint is NaN where any joint it is made from is NaN."""
    if source == target:
        return keypoints
    matrix = conversion_matrix(source, target)
    if keypoints.ndim < 2 or keypoints.shape[-2] != matrix.shape[1]:
        raise ValueError(
            f"layout {source!r} has {matrix.shape[1]} joints, got an array of shape {tuple(keypoints.shape)}"
        )
    converted = np.einsum("tj,...jc->...tc", matrix, np.nan_to_num(keypoints))
    # 0 * NaN would spread a missing joint into every target joint: mask explicitly instead.
    missing = np.einsum("tj,...j->...t", (matrix > 0).astype(np.float32), np.isnan(keypoints).any(-1)) > 0
    converted[missing] = np.nan
    return converted.astype(keypoints.dtype, copy=False)


NORMALIZATIONS = ("hip_center_torso_scale",)


def normalize(keypoints: np.ndarray, layout: str, method: str = "hip_center_torso_scale") -> np.ndarray:
    """Normalise a sequence (T, J, C) for the model: translation and body size removed.

    `hip_center_torso_scale`: subtract the mean hip centre over the sequence's frames (so motion within the
    sequence is kept), then divide by the median torso length (hip centre to shoulder centre, in x and y).
    Frames that are NaN stay NaN. Raises ValueError when no frame has the hips and shoulders.
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}; known: {', '.join(NORMALIZATIONS)}")
    index = get_layout(layout).index
    hips = (keypoints[:, index["left_hip"]] + keypoints[:, index["right_hip"]]) / 2
    shoulders = (keypoints[:, index["left_shoulder"]] + keypoints[:, index["right_shoulder"]]) / 2
    torso = np.linalg.norm(shoulders[:, :2] - hips[:, :2], axis=-1)
    valid = np.isfinite(torso) & (torso > 1e-6)
    if not valid.any():
        raise ValueError("cannot normalise: no frame has both hips and both shoulders")
    centre = hips[valid].mean(axis=0)
    scale = np.median(torso[valid])
    return ((keypoints - centre) / scale).astype(np.float32)


# --- named transforms ----------------------------------------------------------------------------------


@dataclass
class PoseSequence:
    """One clip moving through the transforms: keypoints (T, J, C) in `layout` at `fps`, NaN in frames
    with no person; `start_s` is the time of the first frame in the original clip."""

    keypoints: np.ndarray
    layout: str
    fps: float
    start_s: float = 0.0


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
    # An exact hit on a frame must not pick up a NaN from its neighbour (0 * NaN = NaN).
    return np.where(weight == 0, keypoints[before], blended).astype(keypoints.dtype, copy=False)


@dataclass
class ConvertLayout:
    """Into the model's joint layout, keeping its first `num_channels` channels (x, y[, depth])."""

    layout: str
    num_channels: int

    def __call__(self, sequence: PoseSequence) -> PoseSequence:
        keypoints = np.asarray(sequence.keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[-1] < self.num_channels:
            raise ValueError(f"keypoints must be (frames, joints, >={self.num_channels}), got {keypoints.shape}")
        converted = convert(keypoints[..., :self.num_channels], sequence.layout, self.layout)
        return replace(sequence, keypoints=converted, layout=self.layout)


@dataclass
class TrimMissing:
    """Drop the leading and trailing frames with no person (the clip's start time moves with them)."""

    def __call__(self, sequence: PoseSequence) -> PoseSequence:
        present = np.flatnonzero(present_frames(sequence.keypoints))
        if len(present) == 0:
            return replace(sequence, keypoints=sequence.keypoints[:0])
        return replace(sequence, keypoints=sequence.keypoints[present[0]:present[-1] + 1],
                       start_s=sequence.start_s + present[0] / sequence.fps)


@dataclass
class FillGaps:
    """Interpolate runs of missing frames up to `max_gap_seconds` long (every run when None)."""

    max_gap_seconds: float | None

    def __call__(self, sequence: PoseSequence) -> PoseSequence:
        max_gap = None if self.max_gap_seconds is None else int(round(self.max_gap_seconds * sequence.fps))
        return replace(sequence, keypoints=fill_gaps(sequence.keypoints, max_gap))


@dataclass
class Resample:
    """Linear resampling in time to `fps`."""

    fps: float

    def __call__(self, sequence: PoseSequence) -> PoseSequence:
        return replace(sequence, keypoints=resample(sequence.keypoints, sequence.fps, self.fps), fps=self.fps)


@dataclass
class SlidingWindows:
    """Windows of `num_frames` frames every `stride` frames, plus one ending on the clip's last frame; a
    clip shorter than a window gives one short window. Windows where the person is missing in more than
    `1 - min_present_fraction` of the frames are dropped. Returns (start, length) pairs."""

    num_frames: int
    stride: int
    min_present_fraction: float

    def __call__(self, sequence: PoseSequence) -> list[tuple[int, int]]:
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

    def __call__(self, sequence: PoseSequence) -> PoseSequence:
        return replace(sequence, keypoints=normalize(sequence.keypoints, sequence.layout, self.method))


@dataclass
class PadToLength:
    """Zero-pad a window to `num_frames` frames; returns (keypoints, attention mask with the valid frames first)."""

    num_frames: int

    def __call__(self, sequence: PoseSequence) -> tuple[np.ndarray, np.ndarray]:
        valid = len(sequence.keypoints)
        padded = np.zeros((self.num_frames,) + sequence.keypoints.shape[1:], np.float32)
        padded[:valid] = sequence.keypoints
        mask = np.zeros(self.num_frames, np.int64)
        mask[:valid] = 1
        return padded, mask


# --- the processor -------------------------------------------------------------------------------------


class GymGestureProcessor(FeatureExtractionMixin):
    r"""Turns the keypoints of one clip (or a list of clips) into the model's windows.

    Args:
        layout, num_channels: the model's joint layout and the channels it reads (x, y[, depth]).
        sample_fps: the frame rate windows are sampled at. num_frames: frames per window.
        window_stride: frames between window starts. normalization: the per-window normalisation.
        max_gap_seconds: gaps in the person's track up to this long are interpolated before windowing.
        min_present_fraction: a window needs the person in at least this share of its frames.

    Call: `processor(keypoints, layout="mediapipe33", fps=30.0, return_tensors="pt")` with keypoints
    (T, J, C) of one person in `layout` (extra channels such as MediaPipe's visibility are ignored), NaN
    in frames with no person; or a list of such arrays. Returns a `BatchFeature` with `keypoints`
    (N, num_frames, J, num_channels), `attention_mask` (N, num_frames), `spans` (N, 2): each window's
    start and end in seconds from the clip's first frame, and `clip_index` (N,) into the list given.
    """

    model_input_names = ["keypoints", "attention_mask"]

    def __init__(self, layout: str = CANONICAL_LAYOUT, num_channels: int = 3, sample_fps: float = 30.0,
                 num_frames: int = 60, window_stride: int = 15, normalization: str = "hip_center_torso_scale",
                 max_gap_seconds: float = 0.3, min_present_fraction: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        get_layout(layout)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; known: {', '.join(NORMALIZATIONS)}")
        self.layout, self.num_channels, self.sample_fps = layout, int(num_channels), float(sample_fps)
        self.num_frames, self.window_stride, self.normalization = int(num_frames), int(window_stride), normalization
        self.max_gap_seconds, self.min_present_fraction = float(max_gap_seconds), float(min_present_fraction)

    @classmethod
    def from_model_config(cls, config, **kwargs) -> "GymGestureProcessor":
        """The processor that feeds the model of `config` (a GymGestureConfig)."""
        return cls(layout=config.layout, num_channels=config.num_channels, sample_fps=config.sample_fps,
                   num_frames=config.num_frames, window_stride=config.window_stride,
                   normalization=config.normalization, **kwargs)

    def sequence_transforms(self) -> list:
        return [ConvertLayout(self.layout, self.num_channels), TrimMissing(), FillGaps(self.max_gap_seconds),
                Resample(self.sample_fps)]

    def window_transforms(self) -> list:
        return [FillGaps(None), Normalize(self.normalization), PadToLength(self.num_frames)]

    def windows(self, keypoints: np.ndarray, layout: str, fps: float,
                stride: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keypoints (N, T, J, C) float32, attention_mask (N, T) int64, spans (N, 2) seconds) of one clip;
        N = 0 when the person is missing in most frames of every window. `stride` overrides `window_stride`."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        sequence = PoseSequence(keypoints, layout, float(fps))
        for transform in self.sequence_transforms():
            sequence = transform(sequence)
        windows, masks, spans = [], [], []
        for start, size in SlidingWindows(self.num_frames, stride or self.window_stride, self.min_present_fraction)(sequence):
            # Recurrent fusions need the valid frames first, so the few long holes left are filled rather
            # than masked.
            window = replace(sequence, keypoints=sequence.keypoints[start:start + size])
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
                 stride: int | None = None) -> BatchFeature:
        clips = list(keypoints) if isinstance(keypoints, (list, tuple)) else [keypoints]
        rates = list(fps) if isinstance(fps, (list, tuple)) else [fps] * len(clips)
        if len(rates) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(rates)} frame rates")
        parts = [self.windows(np.asarray(clip), layout, rate, stride) for clip, rate in zip(clips, rates)]
        data = {
            "keypoints": np.concatenate([part[0] for part in parts]),
            "attention_mask": np.concatenate([part[1] for part in parts]),
            "spans": np.concatenate([part[2] for part in parts]),
            "clip_index": np.concatenate([np.full(len(part[0]), i, np.int64) for i, part in enumerate(parts)]),
        }
        return BatchFeature(data=data, tensor_type=return_tensors)


GymGestureProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["GymGestureProcessor", "Layout", "LAYOUTS", "CANONICAL_LAYOUT", "convert", "normalize", "resample",
           "fill_gaps", "ConvertLayout", "TrimMissing", "FillGaps", "Resample", "SlidingWindows", "Normalize",
           "PadToLength", "PoseSequence"]
