"""From pose sequences to the model's inputs: windows, splits by source video, class balance, augmentation.

`windows_from_sequence` is the one preprocessing path: training calls it on every clip of a pose
dataset, inference calls it on a freshly extracted clip, so both see exactly the same windows. It is the
model's own processor (`processing_gym_gesture.GymGestureProcessor`, its named transforms driven by the
model's config), the same code a Hub user loads with AutoProcessor.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model import skeleton
from ..core.errors import InputError

SPLITS = ("train", "validation", "test")


@dataclass
class Windows:
    """Model inputs cut from one sequence or a whole dataset.

    keypoints (N, T, J, C) float32 normalized, zero in padding; attention_mask (N, T) int64 with the
    valid frames first; spans (N, 2) start and end of each window in seconds from the first frame of
    the sequence it was cut from; for a dataset also labels (N,) and clip_index (N,) into `clips`.
    """

    keypoints: np.ndarray
    attention_mask: np.ndarray
    spans: np.ndarray
    labels: np.ndarray | None = None
    clip_index: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keypoints)

    def subset(self, indices: np.ndarray) -> "Windows":
        pick = (lambda array: None if array is None else array[indices])
        return Windows(self.keypoints[indices], self.attention_mask[indices], self.spans[indices],
                       pick(self.labels), pick(self.clip_index))


def windows_from_sequence(keypoints: np.ndarray, layout: str, fps: float, config, stride: int | None = None,
                          frame_size: tuple[int, int] | None = None) -> Windows:
    """Windows of one clip, ready for the model described by `config` (a GymGestureConfig), with their spans:
    the model's processor (`processing_gym_gesture.GymGestureProcessor.windows`) applied to keypoints
    (T, J, C>=num_channels) in `layout` at `fps`, NaN in frames with no person, x / width and y / height of
    frames of `frame_size` (width, height; None or 0 where unknown). `stride`: frames between window starts
    (default `config.window_stride`). Returns no windows (N = 0) when the person is missing in most frames
    of every window.
    """
    from ..model.processing_gym_gesture import GymGestureProcessor  # imports transformers: only when windows are cut

    return Windows(*GymGestureProcessor.from_model_config(config).windows(keypoints, layout, fps, stride, frame_size))


def row_frame_size(row) -> tuple[int, int] | None:
    """A pose dataset row's frame size (width, height), None where the data did not record it."""
    width, height = int(row["width"]), int(row["height"])
    return (width, height) if width > 0 and height > 0 else None


@dataclass
class ClipTable:
    """The clips behind a `Windows` of a dataset, in dataset order."""

    clip_ids: list[str]
    source_ids: list[str]
    labels: list[str]


def windows_from_dataset(dataset, config, stride: int | None = None, label2id: dict[str, int] | None = None,
                         progress: bool = True) -> tuple[Windows, ClipTable]:
    """Windows of every clip of a pose dataset (`gym_gesture.data.dataset`), labeled with `label2id`
    (default `config.label2id`). Clips that give no window are left out of both results."""
    from tqdm.auto import tqdm

    label2id = label2id if label2id is not None else config.label2id
    unknown = sorted(set(dataset["label"]) - set(label2id))
    if unknown:
        raise InputError(f"labels not known to the model: {', '.join(unknown)}")
    clips = ClipTable([], [], [])
    keypoints, masks, spans, labels, clip_index = [], [], [], [], []
    rows = dataset.select_columns(["label", "clip_id", "source_id", "fps", "width", "height", "layout", "keypoints"])
    for row in tqdm(rows.with_format("numpy"), total=len(rows), desc="windows", disable=not progress):
        windows = windows_from_sequence(row["keypoints"], str(row["layout"]), float(row["fps"]), config, stride,
                                        row_frame_size(row))
        if not len(windows):
            continue
        keypoints.append(windows.keypoints)
        masks.append(windows.attention_mask)
        spans.append(windows.spans)
        labels.append(np.full(len(windows), label2id[str(row["label"])]))
        clip_index.append(np.full(len(windows), len(clips.clip_ids)))
        clips.clip_ids.append(str(row["clip_id"]))
        clips.source_ids.append(str(row["source_id"]))
        clips.labels.append(str(row["label"]))
    if not keypoints:
        raise InputError("no clip gave a window: is a person visible in the clips?")
    windows = Windows(np.concatenate(keypoints), np.concatenate(masks), np.concatenate(spans),
                      np.concatenate(labels), np.concatenate(clip_index))
    return windows, clips


def _data_items(data) -> list:
    from datasets import Dataset

    return [data] if isinstance(data, (str, Path, Dataset)) else list(data)


def load_pose_datasets(data) -> list:
    """One or several pose datasets: folders from `extract` / `import-keypoints`, `.npz` archives, or
    datasets already loaded (kept as they are)."""
    from datasets import Dataset

    from .dataset import load_pose_dataset

    data = _data_items(data)
    if not data:
        raise InputError("no data given")
    return [item if isinstance(item, Dataset) else load_pose_dataset(item) for item in data]


def data_names(data) -> list[str]:
    """How results name `data` (see `load_pose_datasets`): its paths, and a loaded dataset by its size."""
    from datasets import Dataset

    return [f"(a dataset of {len(item)} clips)" if isinstance(item, Dataset) else str(item)
            for item in _data_items(data)]


def concatenate_windows(parts: list[Windows]) -> Windows:
    """One `Windows` of several, in order (their clip indices as they are)."""
    return Windows(*(None if getattr(parts[0], name) is None else np.concatenate([getattr(part, name) for part in parts])
                     for name in ("keypoints", "attention_mask", "spans", "labels", "clip_index")))


def windows_from_datasets(datasets, config, stride: int | None = None,
                          cache: dict | None = None) -> tuple[Windows, ClipTable]:
    """Windows and clip table of several pose datasets (any joint layouts) for the model `config`.

    cache: a dict the caller keeps across calls: the same datasets (the same objects) cut the same way
    (processor settings, stride, labels) are windowed once, e.g. by `compare` for all its fusions.
    """
    from ..model.processing_gym_gesture import GymGestureProcessor

    key = (tuple(map(id, datasets)), GymGestureProcessor.from_model_config(config).to_json_string(), stride,
           tuple(config.label2id.items()))
    if cache is not None and key in cache:
        return cache[key][1]
    all_windows, all_clips = [], ClipTable([], [], [])
    for dataset in datasets:
        windows, clips = windows_from_dataset(dataset, config, stride)
        windows.clip_index = windows.clip_index + len(all_clips.clip_ids)
        all_windows.append(windows)
        for name in ("clip_ids", "source_ids", "labels"):
            getattr(all_clips, name).extend(getattr(clips, name))
    windows = concatenate_windows(all_windows)
    if cache is not None:  # the datasets are kept with their windows, so that their ids stay theirs
        cache[key] = (datasets, (windows, all_clips))
    return windows, all_clips


def outside_spans(windows: Windows, clips: ClipTable, excluded_spans: dict[str, list]) -> np.ndarray:
    """(N,) True for the windows that overlap none of their clip's `excluded_spans` (clip id -> [[start,
    end], ...] seconds from the clip's first frame, as `Windows.spans`)."""
    keep = np.ones(len(windows), dtype=bool)
    clip_ids = np.asarray(clips.clip_ids)[windows.clip_index]
    for clip_id, spans in excluded_spans.items():
        in_clip = clip_ids == clip_id
        for span in spans:
            if not (isinstance(span, (list, tuple)) and len(span) == 2 and span[0] < span[1]):
                raise InputError(f"excluded span of {clip_id}: {span!r} is not [start, end] with start before end")
            start, end = span
            keep &= ~(in_clip & (windows.spans[:, 0] < end) & (windows.spans[:, 1] > start))
    return keep


def split_sources(source_ids: list[str], labels: list[str], validation_fraction: float = 0.15,
                  test_fraction: float = 0.15, seed: int = 0) -> dict[str, list[str]]:
    """Train / validation / test source videos, stratified by label and seeded.

    A source goes wholly into one split (its label is the most common label of its clips). Within each
    class the sources are shuffled and dealt out by the fractions; a class with at least three sources
    gets at least one in each split, so the small classes are measured too.
    """
    if not 0 <= validation_fraction < 1 or not 0 <= test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise InputError("validation and test fractions must be in [0, 1) and sum to less than 1")
    by_source: dict[str, dict[str, int]] = {}
    for source, label in zip(source_ids, labels):
        counts = by_source.setdefault(source, {})
        counts[label] = counts.get(label, 0) + 1
    by_class: dict[str, list[str]] = {}
    for source in sorted(by_source):
        counts = by_source[source]
        by_class.setdefault(max(sorted(counts), key=counts.get), []).append(source)
    rng = np.random.default_rng(seed)
    split = {name: [] for name in SPLITS}
    for label in sorted(by_class):
        sources = list(rng.permutation(by_class[label]))
        count = len(sources)
        held_out = [int(round(count * fraction)) if fraction > 0 else 0
                    for fraction in (validation_fraction, test_fraction)]
        if count >= 3:
            held_out = [max(n, 1) if fraction > 0 else 0
                        for n, fraction in zip(held_out, (validation_fraction, test_fraction))]
        while count - sum(held_out) < 1 and sum(held_out) > 0:  # every class keeps a training source
            held_out[int(np.argmax(held_out))] -= 1
        num_validation, num_test = held_out
        split["test"] += sources[:num_test]
        split["validation"] += sources[num_test:num_test + num_validation]
        split["train"] += sources[num_test + num_validation:]
    return {name: sorted(str(source) for source in sources) for name, sources in split.items()}


def held_out_part_of_unseen_source(source_id: str) -> str:
    """"validation" or "test" for a source in no part of a model's split (a clip of a class outside its
    labels that training never saw): a stable hash halves such sources, so that the negatives that
    `calibrate` sets the abstain threshold on (validation) are never those `evaluate --split test`
    reports abstaining on."""
    return "validation" if zlib.crc32(source_id.encode()) % 2 == 0 else "test"


def window_split(validation_fraction: float, test_fraction: float, seed: int) -> dict:
    """A split by window (the paper's: its 91.07% came from one), as saved in split.json: the windows of
    every class shuffled and dealt out by the fractions (`split_windows`). Windows of one clip overlap and
    land in every part, so it measures recognizing more of the videos trained on, not new videos."""
    if not 0 <= validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise InputError("validation and test fractions must be in [0, 1) and sum to less than 1")
    return {"by": "window", "validation_fraction": validation_fraction, "test_fraction": test_fraction, "seed": seed}


def is_window_split(split: dict) -> bool:
    return split.get("by") == "window"


def split_windows(labels: np.ndarray, validation_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, np.ndarray]:
    """Window indices of each part of a split by window, stratified by label and seeded."""
    rng = np.random.default_rng(seed)
    parts = {name: [np.zeros(0, dtype=int)] for name in SPLITS}
    for label in np.unique(labels):
        windows = rng.permutation(np.flatnonzero(labels == label))
        num_test = int(round(len(windows) * test_fraction))
        num_validation = int(round(len(windows) * validation_fraction))
        parts["test"].append(windows[:num_test])
        parts["validation"].append(windows[num_test:num_test + num_validation])
        parts["train"].append(windows[num_test + num_validation:])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def split_indices(windows: Windows, clips: ClipTable, split: dict) -> dict[str, np.ndarray]:
    """Window indices of each part of the split: by source (the source ids of each part) or by window
    (`window_split`)."""
    if is_window_split(split):
        return split_windows(windows.labels, split["validation_fraction"], split["test_fraction"], split["seed"])
    source_of_window = np.asarray(clips.source_ids)[windows.clip_index]
    return {name: np.flatnonzero(np.isin(source_of_window, split.get(name, []))) for name in SPLITS}


def undersample(indices: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """The paper's random undersampling: every class cut down to the window count of the smallest."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels[indices], return_counts=True)
    keep = [rng.choice(indices[labels[indices] == label], counts.min(), replace=False) for label in classes]
    return np.sort(np.concatenate(keep))


def class_weights(labels: np.ndarray, num_classes: int, power: float = 1.0) -> np.ndarray:
    """Balanced weights (n_samples / (n_classes * count)) raised to `power` (0.5: inverse square root
    of the frequency, which keeps a class of a handful of windows from dominating the loss);
    classes absent from `labels` get 1."""
    from sklearn.utils.class_weight import compute_class_weight

    weights = np.ones(num_classes, dtype=np.float32)
    present = np.unique(labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels) ** power
    return weights


def stretch_aspect(keypoints: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Windows (N, T, J, C) with x against y stretched by `factors` (N,), at the same overall size: x times
    the factor's square root, y over it. Up to scale, what a frame of another shape does to a pose read as
    x / width and y / height."""
    root = np.sqrt(np.asarray(factors, np.float32))[:, None, None]
    stretched = keypoints.copy()
    stretched[..., 0] *= root
    stretched[..., 1] /= root
    return stretched


@dataclass
class Augmentation:
    """Random training-time changes of normalized windows, applied to a whole batch at once.

    mirror: probability of a left/right mirror (`skeleton.mirror`); rotation_degrees: in-plane
    rotation range; scale: per-axis scale range; speed: playback speed range (frames past the
    window's end become padding); joint_dropout: probability of zeroing a joint in a window; aspect: x
    against y stretched by a factor drawn log-uniformly from [1 / aspect, aspect] (1: never), the same pose
    as frames of other shapes give it to a model reading x / width and y / height.
    """

    layout: str = skeleton.CANONICAL_LAYOUT
    mirror: float = 0.5
    rotation_degrees: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    speed: tuple[float, float] = (0.8, 1.25)
    joint_dropout: float = 0.05
    aspect: float = 1.0

    def __call__(self, keypoints: np.ndarray, attention_mask: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        keypoints = keypoints.copy()
        attention_mask = attention_mask.copy()
        batch, frames, joints, channels = keypoints.shape
        flip = rng.random(batch) < self.mirror
        keypoints[flip] = skeleton.mirror(keypoints[flip], self.layout)

        angle = np.deg2rad(rng.uniform(-self.rotation_degrees, self.rotation_degrees, batch))
        cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        x, y = keypoints[..., 0].copy(), keypoints[..., 1].copy()
        keypoints[..., 0] = cos * x - sin * y
        keypoints[..., 1] = sin * x + cos * y
        keypoints *= rng.uniform(*self.scale, (batch, 1, 1, channels)).astype(np.float32)
        if self.aspect > 1:  # drawn only then, so that recipes without it train as they did
            keypoints = stretch_aspect(keypoints, np.exp(rng.uniform(-np.log(self.aspect), np.log(self.aspect), batch)))

        # Speed change: output frame t shows time t * speed, interpolated; past the last valid
        # frame it is padding, so the valid frames stay first.
        speed = rng.uniform(*self.speed, batch)
        position = np.arange(frames)[None, :] * speed[:, None]
        length = attention_mask.sum(axis=1)
        inside = position <= (length - 1)[:, None]
        before = np.minimum(np.floor(position).astype(int), frames - 1)
        after = np.minimum(before + 1, (length - 1)[:, None])
        weight = (position - before)[..., None, None].astype(np.float32)
        rows = np.arange(batch)[:, None]
        keypoints = keypoints[rows, before] * (1 - weight) + keypoints[rows, np.maximum(after, before)] * weight
        attention_mask = inside.astype(np.int64)
        keypoints[attention_mask == 0] = 0.0

        dropped = rng.random((batch, 1, joints, 1)) < self.joint_dropout
        keypoints = np.where(dropped, 0.0, keypoints).astype(np.float32)
        return keypoints, attention_mask


class WindowDataset:
    """A torch map-style dataset over `Windows`, with the augmentation applied per batch
    (`__getitems__`, which torch's DataLoader prefers) when given. With `outliers` (a
    `synthetic_outliers.SyntheticOutliers`), each batch also holds the outlier windows it makes from the
    batch, labeled `outlier_label`, before the augmentation."""

    def __init__(self, windows: Windows, augmentation: Augmentation | None = None, seed: int = 0,
                 outliers=None, outlier_label: int = -1):
        if windows.labels is None:
            raise ValueError("windows without labels cannot be used for training")
        self.windows = windows
        self.augmentation = augmentation
        self.outliers = outliers
        self.outlier_label = outlier_label
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[dict[str, np.ndarray]]:
        indices = np.asarray(indices)
        keypoints = self.windows.keypoints[indices]
        attention_mask = self.windows.attention_mask[indices]
        labels = self.windows.labels[indices]
        if self.outliers is not None:
            made, made_mask = self.outliers(keypoints, attention_mask, labels, self.rng)
            keypoints = np.concatenate([keypoints, made])
            attention_mask = np.concatenate([attention_mask, made_mask])
            labels = np.concatenate([labels, np.full(len(made), self.outlier_label, labels.dtype)])
        if self.augmentation is not None:
            keypoints, attention_mask = self.augmentation(keypoints, attention_mask, self.rng)
        return [{"keypoints": k, "attention_mask": m, "labels": y}
                for k, m, y in zip(keypoints, attention_mask, labels)]


def collate_windows(features: list[dict[str, np.ndarray]]) -> dict:
    """Stack window dicts into the model's batch (keypoints float32, attention_mask and labels int64)."""
    import torch

    return {
        "keypoints": torch.from_numpy(np.stack([f["keypoints"] for f in features]).astype(np.float32)),
        "attention_mask": torch.from_numpy(np.stack([f["attention_mask"] for f in features]).astype(np.int64)),
        "labels": torch.from_numpy(np.asarray([f["labels"] for f in features], dtype=np.int64)),
    }
