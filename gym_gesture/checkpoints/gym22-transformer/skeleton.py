"""Skeleton layouts, conversion between them, the image plane's scale and normalization: all in one place.

A layout is an ordered list of joint names plus the bones drawn between them. Joint names are shared
across layouts ("left_shoulder" means the same joint everywhere), which is what lets the conversion
matrices and the left/right mirror be derived rather than written out by hand. Layouts: MediaPipe-33,
COCO-17, OpenPose-18, Penn Action's 13 joints and Human3.6M-17 (`h36m17`), the canonical layout (the
native output of MMPose's 3D lifters) that every other converts into; `h36m17_hands_feet` adds MediaPipe's
hand (index, pinky) and foot (heel, foot index) points to it, which a source without them fills from the
wrist and the ankle.

Self-contained (numpy only): it travels with a saved model as part of its processor's remote code
(`processing_gym_gesture.py`), so a Hub user's preprocessing and the package's are one implementation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

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
_FEET = (
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
)

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
    _LIMBS + _TORSO + (("left_wrist", "left_index"), ("right_wrist", "right_index")) + _FEET + _FACE,
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
# named so, and H36M's neck (the nose, see _DERIVED_JOINTS) stays the nose for every source.
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

# A grip (a hammer curl's thumbs up against a curl's palms forward) and a foot's pitch (a calf raise) show
# only in these points; a model in this layout reads them where the source has them.
_HAND_FEET_JOINTS = ("left_index", "left_pinky", "right_index", "right_pinky",
                     "left_heel", "left_foot_index", "right_heel", "right_foot_index")
H36M17_HANDS_FEET = Layout(
    "h36m17_hands_feet",
    H36M17.joints + _HAND_FEET_JOINTS,
    H36M17.bones + (
        ("left_wrist", "left_index"), ("left_wrist", "left_pinky"), ("left_index", "left_pinky"),
        ("right_wrist", "right_index"), ("right_wrist", "right_pinky"), ("right_index", "right_pinky"),
    ) + _FEET,
)

CANONICAL_LAYOUT = "h36m17"
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in
                              (MEDIAPIPE33, COCO17, OPENPOSE18, PENN13, H36M17, H36M17_HANDS_FEET)}
# The layouts a model reads: what `convert` may make joints for that a source lacks (`_DERIVED_JOINTS`).
MODEL_LAYOUTS = ("h36m17", "h36m17_hands_feet")

# The joints of a model layout that a source lacks, made from joints it has: each entry lists the ways to
# make it, best first; a joint is the mean of the first way whose joints the source has, and of the next way
# in frames where a joint of the first is missing (OpenPose often loses the ears, never the whole head).
# The one place that says what stands in for a missing joint: H36M's "neck" is the nose in every source
# with a face; Penn Action annotates a single "head" joint and no face, so its head stands in for the nose.
# A source without hand or foot points (COCO, OpenPose, Penn Action, MMPose's lifter) gives the wrist and
# the ankle for them: a hand or foot of no size, which says nothing of the grip.
_DERIVED_JOINTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pelvis": (("left_hip", "right_hip"),),
    "thorax": (("left_shoulder", "right_shoulder"),),
    "spine": (("left_hip", "right_hip", "left_shoulder", "right_shoulder"),),
    "neck": (("nose",), ("head",)),
    "head": (("left_ear", "right_ear"), ("left_eye", "right_eye"), ("nose",)),
    **{f"{side}_{point}": ((f"{side}_wrist",),) for side in ("left", "right") for point in ("index", "pinky")},
    **{f"{side}_{point}": ((f"{side}_ankle",),) for side in ("left", "right") for point in ("heel", "foot_index")},
}


def graph_partitions(name: str) -> np.ndarray:
    """ST-GCN's "spatial" partitions of a layout's skeleton graph, (3, J, J) float32, `A[k, i, j]` the link
    from joint i to joint j: the root (self links, and bones between joints equally far from the center, as
    in ST-GCN's own code), the inward links (towards the center) and the outward links, each normalized by
    in-degree so that `features @ A[k]` averages over a joint's neighbors.

    The center of each connected part of the graph (a face without a neck bone is a part of its own) is
    its joint of least eccentricity: the spine in H36M-17, between the hips and the shoulders."""
    layout = get_layout(name)
    count = layout.num_joints
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for a, b in layout.bone_indices:
        neighbours[a].append(b)
        neighbours[b].append(a)

    def hops_from(start: int) -> dict[int, int]:
        hops, queue = {start: 0}, deque([start])
        while queue:
            joint = queue.popleft()
            for other in neighbours[joint]:
                if other not in hops:
                    hops[other] = hops[joint] + 1
                    queue.append(other)
        return hops

    depth = {}
    for joint in range(count):
        if joint not in depth:
            part = hops_from(joint)
            center = min(part, key=lambda candidate: (max(hops_from(candidate).values()), candidate))
            depth.update(hops_from(center))
    partitions = np.zeros((3, count, count), dtype=np.float32)
    partitions[0] = np.eye(count)
    for a, b in layout.bone_indices:
        if depth[a] == depth[b]:
            partitions[0, a, b] = partitions[0, b, a] = 1.0
        else:
            child, parent = (a, b) if depth[a] > depth[b] else (b, a)
            partitions[1, child, parent] = partitions[2, parent, child] = 1.0
    in_degree = partitions.sum(axis=1, keepdims=True)
    return partitions / np.where(in_degree > 0, in_degree, 1.0)


def get_layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise ValueError(f"unknown joint layout {name!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def layouts_with_joint_count(num_joints: int) -> list[str]:
    """The layouts of `num_joints` joints: how an archive of unnamed (T, J, C) arrays is recognized."""
    return [name for name, layout in LAYOUTS.items() if layout.num_joints == num_joints]


def conversion_matrices(source: str, target: str = CANONICAL_LAYOUT) -> list[np.ndarray]:
    """(J_target, J_source) weights, `converted = matrix @ keypoints` joint-wise, best first: matrix k makes
    each target joint from the k-th way the source has of making it (its last where it has fewer)."""
    src, dst = get_layout(source), get_layout(target)
    joint_ways = []
    for joint in dst.joints:
        ways = ((joint,),) + (_DERIVED_JOINTS.get(joint, ()) if target in MODEL_LAYOUTS else ())
        available = [way for way in ways if all(parent in src.index for parent in way)]
        if not available:
            raise ValueError(f"cannot convert layout {source!r} into {target!r}: no joint {joint!r}")
        joint_ways.append(available)
    matrices = []
    for k in range(max(map(len, joint_ways))):
        matrix = np.zeros((dst.num_joints, src.num_joints), dtype=np.float32)
        for row, available in enumerate(joint_ways):
            parents = available[min(k, len(available) - 1)]
            for parent in parents:
                matrix[row, src.index[parent]] = 1.0 / len(parents)
        matrices.append(matrix)
    return matrices


def convert(keypoints: np.ndarray, source: str, target: str = CANONICAL_LAYOUT) -> np.ndarray:
    """Convert keypoints (..., J, C) from layout `source` into `target` (scores: pass `scores[..., None]`).
    A derived joint comes from its next way of being made where a joint of a better way is NaN, and is
    NaN where every way has a NaN joint."""
    if source == target:
        return keypoints
    matrices = conversion_matrices(source, target)
    if keypoints.ndim < 2 or keypoints.shape[-2] != matrices[0].shape[1]:
        raise ValueError(
            f"layout {source!r} has {matrices[0].shape[1]} joints, got an array of shape {tuple(keypoints.shape)}"
        )
    values, lost = np.nan_to_num(keypoints), np.isnan(keypoints).any(-1).astype(np.float32)
    converted = None
    for matrix in matrices:
        made = np.einsum("tj,...jc->...tc", matrix, values)
        # 0 * NaN would spread a missing joint into every target joint: mask explicitly instead.
        made[np.einsum("tj,...j->...t", (matrix > 0).astype(np.float32), lost) > 0] = np.nan
        converted = made if converted is None else np.where(np.isnan(converted), made, converted)
    return converted.astype(keypoints.dtype, copy=False)


IMAGE_SCALES = ("frame_axes", "longer_side")


def image_plane_in_scale(frame_axes: np.ndarray, width: int, height: int, image_scale: str) -> np.ndarray:
    """x / width and y / height (the last axis' first two channels, as MediaPipe and the pose datasets hold
    them) as a 2-channel model of `image_scale` reads them: "frame_axes", as they are (the models trained
    before "longer_side", so a pose's shape depended on the frame's); "longer_side", both over the frame's
    longer side, so a pose keeps its shape in a portrait clip, a landscape one, or one placed beside another.
    A frame of unknown size (0: an archive that did not record it) leaves them as they are."""
    if image_scale not in IMAGE_SCALES:
        raise ValueError(f"image_scale={image_scale!r} is unknown; choose one of {', '.join(IMAGE_SCALES)}")
    plane = frame_axes[..., :2]
    if image_scale == "frame_axes" or width <= 0 or height <= 0:
        return plane
    return (plane * (np.array([width, height], np.float32) / max(width, height))).astype(np.float32)


NORMALIZATIONS = ("hip_center_torso_scale",)


def _hips_and_torso(keypoints: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, C) hip centers and (T,) torso lengths (hip center to shoulder center, in x and y)."""
    index = get_layout(layout).index
    hips = (keypoints[:, index["left_hip"]] + keypoints[:, index["right_hip"]]) / 2
    shoulders = (keypoints[:, index["left_shoulder"]] + keypoints[:, index["right_shoulder"]]) / 2
    return hips, np.linalg.norm(shoulders[:, :2] - hips[:, :2], axis=-1)


def has_torso(keypoints: np.ndarray, layout: str) -> bool:
    """Whether some frame of (T, J, C) shows both hips and both shoulders apart: what `normalize` needs.
    Annotations of a body never whole (every joint at one point, or the torso missing) have none."""
    torso = _hips_and_torso(keypoints, layout)[1]
    return bool((np.isfinite(torso) & (torso > 1e-6)).any())


def normalize(keypoints: np.ndarray, layout: str, method: str = "hip_center_torso_scale") -> np.ndarray:
    """Normalize a sequence (T, J, C) for the model: translation and body size removed.

    `hip_center_torso_scale`: subtract the mean hip center over the sequence's frames (so motion within the
    sequence is kept), then divide by the median torso length (hip center to shoulder center, in x and y).
    Frames that are NaN stay NaN. Raises ValueError when no frame has the hips and shoulders.
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}; known: {', '.join(NORMALIZATIONS)}")
    hips, torso = _hips_and_torso(keypoints, layout)
    valid = np.isfinite(torso) & (torso > 1e-6)
    if not valid.any():
        raise ValueError("cannot normalise: no frame has both hips and both shoulders")
    center = hips[valid].mean(axis=0)
    scale = np.median(torso[valid])
    return ((keypoints - center) / scale).astype(np.float32)


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at joint b (degrees) of the image-plane triangle a-b-c, per frame: arrays (..., >=2)."""
    u, v = a[..., :2] - b[..., :2], c[..., :2] - b[..., :2]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def mirror(keypoints: np.ndarray, layout: str) -> np.ndarray:
    """Left/right mirror of normalized keypoints (..., J, C): swap sides and negate x."""
    mirrored = keypoints[..., get_layout(layout).mirror_permutation, :].copy()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored
