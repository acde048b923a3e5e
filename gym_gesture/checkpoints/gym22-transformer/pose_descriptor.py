"""The pose descriptor of a window: what exercises enrolled from a few clips are recognized by.

Per frame: the cosines of the elbow, shoulder, hip and knee angles and how far the wrists are below the
shoulders and the ankles below the hips (image y grows downwards), each the larger and the smaller of the
two sides, and the direction of the torso (its sin and |cos|), so that a mirror image (or the exercise done
with the other arm) reads the same. The "pose-spread" descriptor adds the horizontal distance between the
left and right wrist, elbow, knee and ankle (arms raised to the front or to the sides, feet together or
apart: a front raise, a lateral raise and a jumping jack have the same angles). Per window: each feature's
`WINDOW_STATISTICS` over the valid frames. It reads the image plane (x, y) of the normalized window, which
every source and layout has.

Self-contained (torch and `skeleton` only): it travels with a saved model as part of its remote code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .skeleton import get_layout

# The angle at the middle joint of each triple, by that joint.
_ANGLES = {"elbow": ("shoulder", "elbow", "wrist"), "shoulder": ("hip", "shoulder", "elbow"),
           "hip": ("shoulder", "hip", "knee"), "knee": ("hip", "knee", "ankle")}
_HEIGHTS = (("wrist", "shoulder"), ("ankle", "hip"))  # how far the first joint is below the second
_SPREADS = ("wrist", "elbow", "knee", "ankle")


def _side_features(side: str) -> list[str]:
    return [f"{joint} cosine, {side}" for joint in _ANGLES] + [f"{low} below {high}, {side}" for low, high in _HEIGHTS]


# The per-frame features in the order `pose_descriptor_frames` computes them.
POSE_FEATURES = (*_side_features("larger"), *_side_features("smaller"), "torso sin", "torso |cos|")
SPREAD_FEATURES = tuple(f"{joint} spread" for joint in _SPREADS)
POSE_DESCRIPTOR_FRAME_FEATURES = len(POSE_FEATURES)
# What a window keeps of each feature, over its valid frames: "change" is the mean absolute change from a
# frame to the next.
WINDOW_STATISTICS = ("mean", "std", "min", "max", "change")
# Each feature's window statistics (columns as `WINDOW_STATISTICS`): their (mean, std) over the 2,322
# training windows of the shipped 7-class checkpoint (`python -m benchmarks.enroll --descriptor-statistics`),
# which standardize the descriptor before the cosine.
DESCRIPTOR_STATISTICS = {
    "elbow cosine, larger":          ((-0.09545, 0.484),  (0.5414, 0.2252),   (-0.7656, 0.4937),  (0.7351, 0.3306),   (0.181, 0.1304)),
    "shoulder cosine, larger":       ((0.4932, 0.5064),   (0.3202, 0.286),    (0.01397, 0.7712),  (0.9219, 0.2216),   (0.0954, 0.0947)),
    "hip cosine, larger":            ((-0.6788, 0.452),   (0.1951, 0.2641),   (-0.8991, 0.2733),  (-0.2978, 0.7825),  (0.06368, 0.1003)),
    "knee cosine, larger":           ((-0.6032, 0.4834),  (0.2251, 0.2739),   (-0.8696, 0.3169),  (-0.173, 0.7957),   (0.09408, 0.1441)),
    "wrist below shoulder, larger":  ((0.4355, 0.9653),   (0.3692, 0.2551),   (-0.1048, 0.7869),  (1.001, 1.149),     (0.1272, 0.1135)),
    "ankle below hip, larger":       ((0.8219, 0.6564),   (0.2718, 0.3041),   (0.3707, 0.8256),   (1.243, 0.8754),    (0.09098, 0.117)),
    "elbow cosine, smaller":         ((-0.3636, 0.4449),  (0.4891, 0.2233),   (-0.8803, 0.3915),  (0.487, 0.4639),    (0.172, 0.125)),
    "shoulder cosine, smaller":      ((0.294, 0.5425),    (0.3446, 0.2731),   (-0.196, 0.7366),   (0.8113, 0.3229),   (0.1107, 0.09689)),
    "hip cosine, smaller":           ((-0.7678, 0.3802),  (0.1606, 0.2503),   (-0.9433, 0.2081),  (-0.4523, 0.7181),  (0.04919, 0.08828)),
    "knee cosine, smaller":          ((-0.7408, 0.3619),  (0.1849, 0.2527),   (-0.9381, 0.2049),  (-0.3632, 0.7288),  (0.07879, 0.1341)),
    "wrist below shoulder, smaller": ((0.2441, 0.9211),   (0.3457, 0.2669),   (-0.2734, 0.7669),  (0.7734, 1.113),    (0.1176, 0.1163)),
    "ankle below hip, smaller":      ((0.6933, 0.6349),   (0.2634, 0.3098),   (0.2402, 0.8681),   (1.094, 0.7977),    (0.08973, 0.1188)),
    "torso sin":                     ((-0.6014, 0.4308),  (0.1092, 0.1659),   (-0.7421, 0.3454),  (-0.4115, 0.5934),  (0.03808, 0.06129)),
    "torso |cos|":                   ((0.5051, 0.3897),   (0.059, 0.05379),   (0.4114, 0.3825),   (0.6021, 0.3906),   (0.02044, 0.02328)),
    "wrist spread":                  ((0.6126, 0.8081),   (0.08862, 0.1405),  (0.4365, 0.6968),   (0.7752, 0.875),    (0.0474, 0.08236)),
    "elbow spread":                  ((0.6368, 0.7641),   (0.1078, 0.1432),   (0.4328, 0.5679),   (0.8208, 0.903),    (0.05237, 0.07636)),
    "knee spread":                   ((0.3186, 0.4042),   (0.06216, 0.09368), (0.2174, 0.3482),   (0.4528, 0.5239),   (0.03091, 0.05498)),
    "ankle spread":                  ((0.3001, 0.3975),   (0.06909, 0.1095),  (0.2033, 0.3706),   (0.47, 0.5433),     (0.03806, 0.07046)),
}
# By enrollment embedding, the groups of features its descriptor is made of: group by group, each group's
# statistics in the order of `WINDOW_STATISTICS`, each statistic over the group's features in their order.
DESCRIPTOR_FEATURES = {"pose": (POSE_FEATURES,), "pose-spread": (POSE_FEATURES, SPREAD_FEATURES)}
POSE_DESCRIPTOR_DIM = {embedding: len(WINDOW_STATISTICS) * sum(map(len, groups))
                       for embedding, groups in DESCRIPTOR_FEATURES.items()}


def _standardization(embedding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and standard deviation of each value of `embedding`'s descriptor, in its order."""
    pairs = [DESCRIPTOR_STATISTICS[feature][statistic] for group in DESCRIPTOR_FEATURES[embedding]
             for statistic in range(len(WINDOW_STATISTICS)) for feature in group]
    mean, std = torch.tensor(pairs).unbind(dim=1)
    return mean, std


_STANDARDIZATION = {embedding: _standardization(embedding) for embedding in DESCRIPTOR_FEATURES}


def pose_descriptor_frames(keypoints: torch.Tensor, layout: str, embedding: str = "pose-spread") -> torch.Tensor:
    """(B, T, F) per-frame features of keypoints (B, T, J, C >= 2) in `layout`: `POSE_FEATURES`, and for
    "pose-spread" those and `SPREAD_FEATURES`."""
    index = get_layout(layout).index
    xy = keypoints[..., :2].float()

    def joint(side: str, name: str) -> torch.Tensor:
        return xy[..., index[f"{side}_{name}"], :]

    def cosine(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # of the angle at b
        u, v = a - b, c - b
        return (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1)).clamp(min=1e-6)

    sides = [torch.stack([cosine(*(joint(side, name) for name in angle)) for angle in _ANGLES.values()]
                         + [joint(side, low)[..., 1] - joint(side, high)[..., 1] for low, high in _HEIGHTS],
                         dim=-1) for side in ("left", "right")]
    torso = (joint("left", "shoulder") + joint("right", "shoulder") - joint("left", "hip") - joint("right", "hip")) / 2
    direction = torch.atan2(torso[..., 1], torso[..., 0])
    # The torso's lean sideways as |cos|: a mirror image (a clip filmed from the other side) flips its sign.
    features = [torch.maximum(*sides), torch.minimum(*sides), direction.sin()[..., None],
                direction.cos().abs()[..., None]]
    if embedding == "pose-spread":
        features.append(torch.stack([(joint("left", name)[..., 0] - joint("right", name)[..., 0]).abs()
                                     for name in _SPREADS], dim=-1))
    return torch.nan_to_num(torch.cat(features, dim=-1))


def _window_statistics(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 5 F) of per-frame features (B, T, F) over the valid frames (mask (B, T) bool): `WINDOW_STATISTICS`
    of every feature, statistic by statistic."""
    valid = mask[..., None]
    count = valid.sum(dim=1).clamp(min=1)
    mean = frames.masked_fill(~valid, 0.0).sum(dim=1) / count
    std = ((frames - mean[:, None]).masked_fill(~valid, 0.0) ** 2).sum(dim=1).div(count).sqrt()
    low = frames.masked_fill(~valid, float("inf")).amin(dim=1)
    high = frames.masked_fill(~valid, float("-inf")).amax(dim=1)
    both = valid[:, 1:] & valid[:, :-1]
    change = (frames[:, 1:] - frames[:, :-1]).abs().masked_fill(~both, 0.0).sum(dim=1) / both.sum(dim=1).clamp(min=1)
    return torch.cat([mean, std, low, high, change], dim=-1)


def pose_descriptor(keypoints: torch.Tensor, mask: torch.Tensor, layout: str, standardize: bool = True,
                    embedding: str = "pose-spread") -> torch.Tensor:
    """(B, `POSE_DESCRIPTOR_DIM[embedding]`) descriptors of windows (keypoints (B, T, J, C), mask (B, T) bool),
    in the order of `DESCRIPTOR_FEATURES[embedding]`; unit length after standardizing with
    `DESCRIPTOR_STATISTICS` (raw, unnormalised, with standardize=False)."""
    frames = pose_descriptor_frames(keypoints, layout, embedding)
    groups = frames.split([len(group) for group in DESCRIPTOR_FEATURES[embedding]], dim=-1)
    descriptor = torch.cat([_window_statistics(group, mask) for group in groups], dim=-1)
    if not standardize:
        return descriptor
    mean, std = (values.to(descriptor.device) for values in _STANDARDIZATION[embedding])
    return F.normalize((descriptor - mean) / std, dim=-1)


__all__ = ["DESCRIPTOR_FEATURES", "DESCRIPTOR_STATISTICS", "POSE_DESCRIPTOR_DIM", "POSE_DESCRIPTOR_FRAME_FEATURES",
           "POSE_FEATURES", "SPREAD_FEATURES", "WINDOW_STATISTICS", "pose_descriptor", "pose_descriptor_frames"]
