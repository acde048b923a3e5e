"""Synthetic outlier windows: known exercises taken apart into motions that are none of them.

Exercises a model never saw are often a known one's posture with another body part moving: a dumbbell
row is a romanian deadlift's bent trunk with the arms pulling, a dead bug a bench press's lying body with
the legs moving, a mountain climber a push up's plank with the knees driving. A model that learnt
"bent trunk: romanian deadlift" names them with confidence (issue #31). `SyntheticOutliers` makes such
windows from a training batch: the part that moves most in one window (trunk, arms or legs, as bone
vectors of the canonical skeleton) is held still at one of its frames, and another part takes the
motion of that part in a window of another exercise, where it moves. The copies train as outliers
(`training.train.OUTLIER_LABEL`); the windows they were made from stay in the batch as they are.

A copy that keeps the donor exercise's posture would be the donor exercise itself (a squat held standing
with a curl's arms is a curl), so a copy is made only where the parts it keeps differ from the donor's
by `min_posture_distance` (torso lengths, mean over their bones). A window whose parts barely move (a
plank) is never taken apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import skeleton

# The bones of each part, named by their child joint in the canonical layout's tree (rooted at the pelvis).
PARTS = {
    "trunk": ("right_hip", "left_hip", "spine", "thorax", "neck", "head", "left_shoulder", "right_shoulder"),
    "arms": ("left_elbow", "left_wrist", "right_elbow", "right_wrist"),
    "legs": ("right_knee", "right_ankle", "left_knee", "left_ankle"),
}


@dataclass
class SyntheticOutliers:
    """Called on a batch of normalized windows of the canonical layout and their labels; returns
    outlier windows and their attention masks made from `fraction` of the batch's known windows
    (those with a label >= 0, every frame valid), fewer where no donor fits."""

    fraction: float = 0.25
    min_motion: float = 0.1
    min_posture_distance: float = 0.3

    def __post_init__(self):
        layout = skeleton.get_layout(skeleton.CANONICAL_LAYOUT)
        parent = {child: start for start, child in layout.bone_indices}
        self._parent = parent
        self._root = layout.index["pelvis"]
        # Joints in an order where a joint's parent comes first, to rebuild positions from bone vectors.
        order, placed = [], {self._root}
        while len(placed) < len(layout.joints):
            for child, start in parent.items():
                if child not in placed and start in placed:
                    order.append(child)
                    placed.add(child)
        self._order = order
        self._parts = {name: np.array([layout.index[joint] for joint in joints]) for name, joints in PARTS.items()}
        # The bones a copy keeps from its own window when a part moves as the donor's (the root has none).
        self._kept = {name: np.setdiff1d(list(parent), joints) for name, joints in self._parts.items()}

    def _bones(self, keypoints: np.ndarray) -> np.ndarray:
        bones = np.zeros_like(keypoints)
        for child, start in self._parent.items():
            bones[..., child, :] = keypoints[..., child, :] - keypoints[..., start, :]
        return bones

    def _positions(self, root: np.ndarray, bones: np.ndarray) -> np.ndarray:
        positions = np.zeros_like(bones)
        positions[..., self._root, :] = root
        for child in self._order:
            positions[..., child, :] = positions[..., self._parent[child], :] + bones[..., child, :]
        return positions

    def _motion(self, bones: np.ndarray) -> dict[str, np.ndarray]:
        """Per window and part: the mean over the part's bones of how far they move (torso lengths)."""
        spread = np.linalg.norm(bones.std(axis=1), axis=-1)  # (N, J)
        return {name: spread[:, joints].mean(axis=1) for name, joints in self._parts.items()}

    def __call__(self, keypoints: np.ndarray, attention_mask: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        usable = np.flatnonzero((labels >= 0) & attention_mask.all(axis=1)
                                & (np.abs(keypoints).sum(axis=(1, 3)) > 0).all(axis=1))
        if len(usable) < 2:
            return keypoints[:0], attention_mask[:0]
        frames = keypoints.shape[1]
        bones = self._bones(keypoints[usable])
        motion = self._motion(bones)
        names = list(self._parts)
        active = np.stack([motion[name] for name in names], axis=1)  # (U, parts)
        usable_labels = labels[usable]
        made = []
        for i in rng.choice(len(usable), size=int(round(self.fraction * len(usable))), replace=False):
            held = int(active[i].argmax())
            if active[i, held] < self.min_motion:
                continue
            moved = int(rng.choice([part for part in range(len(names)) if part != held]))
            donors = np.flatnonzero((usable_labels != usable_labels[i]) & (active[:, moved] >= self.min_motion))
            if not len(donors):
                continue
            donor = int(rng.choice(donors))
            held_joints, moved_joints = self._parts[names[held]], self._parts[names[moved]]
            new = bones[i].copy()
            new[:, held_joints] = bones[i, int(rng.integers(frames)), held_joints]
            new[:, moved_joints] = bones[donor][:, moved_joints]
            kept = self._kept[names[moved]]
            distance = np.linalg.norm(new[:, kept].mean(0) - bones[donor][:, kept].mean(0), axis=-1).mean()
            if distance < self.min_posture_distance:
                continue
            made.append(self._positions(keypoints[usable[i], :, self._root], new))
        if not made:
            return keypoints[:0], attention_mask[:0]
        return np.stack(made).astype(keypoints.dtype), np.ones((len(made), frames), attention_mask.dtype)
