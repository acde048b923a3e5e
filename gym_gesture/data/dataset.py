"""The pose dataset on disk: one row per clip, written by `extract` and `import-keypoints`, read by training.

Schema (a Hugging Face `datasets.Dataset`, saved with `save_to_disk`):
    label      str    class name: canonical (`gym_gesture.data.labels`) for the 22 classes; other exercises
                      keep their own name (`labels.normalise_label`), as negatives to abstain on
    clip_id    str    unique per clip
    source_id  str    the source video the clip was cut from: splits never separate one source
    fps        float  frame rate of the keypoint series
    width, height  int  frame size in pixels (0 when unknown, as in most of the shared npz archives)
    backend    str    pose backend that produced the keypoints ("penn_action": annotated by hand)
    layout     str    joint layout of `keypoints` (`gym_gesture.model.skeleton.LAYOUTS`), raw as extracted
    keypoints  float32 (T, J, 3) x, y normalized to the frame (in pixels for a 2-D archive of unknown frame
               size) and depth; NaN in frames where no person was found. Sources without depth (OpenPose,
               Penn Action) have 0 there, as the MMPose 2-D backend: NaN would mark every frame missing.
    scores     float32 (T, J) the source's per-joint confidence or visibility
    detected   bool    (T,)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError, MissingFileError
from .labels import normalize_label
from ..model.skeleton import get_layout, layouts_with_joint_count

COLUMNS = ("label", "clip_id", "source_id", "fps", "width", "height", "backend", "layout",
           "keypoints", "scores", "detected")


def features(num_joints: int):
    from datasets import Array2D, Array3D, Features, Sequence, Value

    return Features({
        "label": Value("string"),
        "clip_id": Value("string"),
        "source_id": Value("string"),
        "fps": Value("float32"),
        "width": Value("int32"),
        "height": Value("int32"),
        "backend": Value("string"),
        "layout": Value("string"),
        "keypoints": Array3D(shape=(None, num_joints, 3), dtype="float32"),
        "scores": Array2D(shape=(None, num_joints), dtype="float32"),
        "detected": Sequence(Value("bool")),
    })


def source_id_from_clip_id(clip_id: str) -> str:
    """The source video of a clip: `squat_13_1` and `squat_13` both come from `squat_13`.

    The id is cut after its first number that ends a word (before an underscore or the end of the id);
    ids without one are their own source. Digits inside a word do not count: every `fit3d_barbell_row10`
    of Fit3D is its own sequence, not all of them one source "fit3".
    """
    match = re.match(r"^(.*?\d+)(?=_|$)", clip_id)
    return match.group(1) if match else clip_id


@dataclass(frozen=True)
class ArchiveFormat:
    """How a keypoint archive of one joint layout stores a frame: `channels` per joint, the last one a
    confidence; `pixels`: x, y in pixels rather than normalized to the frame (then without depth)."""

    backend: str
    channels: int
    pixels: bool


# The formats of `../shared/data/keypoints` (its README), recognized by their joint count.
ARCHIVE_FORMATS = {
    "mediapipe33": ArchiveFormat("mediapipe", 4, pixels=False),  # x, y, z, visibility
    "openpose18": ArchiveFormat("openpose", 3, pixels=True),  # x, y, confidence
    "penn13": ArchiveFormat("penn_action", 3, pixels=True),  # x, y, visible 0/1
}


def archive_layout(num_joints: int) -> str:
    """The joint layout of an archive's (T, J, C) arrays from J; ValueError when none or several fit."""
    layouts = [name for name in layouts_with_joint_count(num_joints) if name in ARCHIVE_FORMATS]
    if len(layouts) != 1:
        known = ", ".join(f"{get_layout(name).num_joints} ({name})" for name in ARCHIVE_FORMATS)
        raise InputError(f"{num_joints} joints is no keypoint archive layout; known joint counts: {known}")
    return layouts[0]


def read_sidecar(path: Path) -> dict[str, dict]:
    """The optional `<archive stem>.json` beside an archive: `{"<label>/<clip id>": {"width", "height",
    "fps"}}`, each field optional (Penn Action's gives the frame size and camera view)."""
    sidecar = path.with_suffix(".json")
    if not sidecar.exists():
        return {}
    try:
        entries = json.loads(sidecar.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{sidecar}: not a readable JSON sidecar ({error})") from error
    if not isinstance(entries, dict) or not all(isinstance(entry, dict) for entry in entries.values()):
        raise InputError(f"{sidecar}: expected {{\"<label>/<clip id>\": {{\"width\": ..., \"height\": ...}}}}")
    return entries


def records_from_npz(path: str | Path, fps: float = 30.0, frame_size: tuple[int, int] | None = None) -> list[dict]:
    """Rows of the dataset schema from an archive in the `../shared/data/keypoints` format: key
    `"<label>/<clip id>"` -> array (T, J, C), NaN where no person, in one of `ARCHIVE_FORMATS` recognized
    by J. Frame size and frame rate come from the sidecar JSON beside it where it gives them; else the
    size is `frame_size` (width, height), unknown (0) without it, and the rate is `fps` (the archives did
    not record it: about 30 for most)."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises several types for a damaged zip
        raise InputError(f"{path}: not a readable .npz keypoint archive ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a bad input file, not a programming error
        raise InputError(  # noqa: TRY004
            f"{path}: a single .npy array, not an .npz keypoint archive of '<label>/<clip id>' keys")
    sidecar = read_sidecar(path)
    rows = []
    with archive:
        if not archive.files:
            raise InputError(f"{path}: an empty archive, no clips")
        for key in archive.files:
            if key.count("/") != 1:
                raise InputError(f"{path}: key {key!r} is not '<label>/<clip id>'")
            label, clip_id = key.split("/")
            try:
                array = archive[key]
            except Exception as error:  # a damaged member, or Python objects: pickles are never loaded
                raise InputError(f"{path}: {key!r} is unreadable ({error})") from error
            if array.dtype.kind not in "fiu":
                raise InputError(f"{path}: {key!r} holds {array.dtype} values, not numbers")
            if array.ndim != 3:
                raise InputError(f"{path}: {key!r} has shape {array.shape}, expected (T, joints, channels)")
            try:
                layout = archive_layout(array.shape[1])
            except ValueError as error:
                raise InputError(f"{path}: {key!r}: {error}") from error
            source = ARCHIVE_FORMATS[layout]
            if array.shape[2] != source.channels:
                raise InputError(f"{path}: {key!r} has shape {array.shape}, expected (T, {array.shape[1]}, "
                                 f"{source.channels}) for layout {layout}")
            entry = sidecar.get(key, {})
            width, height = int(entry.get("width", 0)), int(entry.get("height", 0))
            if not (width and height) and frame_size:
                width, height = frame_size
            array = array.astype(np.float32)
            points = array[..., :-1]
            if source.pixels:
                if width > 0 and height > 0:
                    points = points / np.array([width, height], np.float32)
                points = np.concatenate([points, np.zeros_like(points[..., :1])], axis=-1)
            rows.append({
                "label": normalize_label(label),
                "clip_id": clip_id,
                "source_id": source_id_from_clip_id(clip_id),
                "fps": float(entry.get("fps", fps)),
                "width": width,
                "height": height,
                "backend": source.backend,
                "layout": layout,
                "keypoints": points,
                "scores": np.nan_to_num(array[..., -1]),
                # OpenPose misses single joints: the person is there when any joint is.
                "detected": ~np.isnan(points[..., :2]).all(axis=(1, 2)),
            })
    return rows


def dataset_from_records(rows: list[dict]):
    from datasets import Dataset

    if not rows:
        raise InputError("no clips to write")
    layouts = {row["layout"] for row in rows}
    if len(layouts) != 1:
        raise InputError(f"clips of several joint layouts in one dataset: {sorted(layouts)}")
    num_joints = rows[0]["keypoints"].shape[1]
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    return Dataset.from_dict(columns, features=features(num_joints))


def load_pose_dataset(path: str | Path):
    """A dataset saved by `extract` / `import-keypoints`, or directly an `.npz` keypoint archive."""
    from datasets import load_from_disk

    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such dataset folder or .npz file")
    if path.suffix == ".npz":
        return dataset_from_records(records_from_npz(path))
    dataset = load_from_disk(str(path))
    missing = set(COLUMNS) - set(dataset.column_names)
    if missing:
        raise InputError(f"{path}: not a gym-gesture pose dataset (missing columns {sorted(missing)})")
    return dataset
