"""The pose dataset on disk: one row per clip, written by `extract` and `import-keypoints`, read by training.

Schema (a Hugging Face `datasets.Dataset`, saved with `save_to_disk`):
    label      str    canonical class name (`gym_gesture.labels`)
    clip_id    str    unique per clip
    source_id  str    the source video the clip was cut from: splits never separate one source
    fps        float  frame rate of the keypoint series
    width, height  int  frame size in pixels (0 when unknown, as in the shared npz archives)
    backend    str    pose backend that produced the keypoints
    layout     str    joint layout of `keypoints` (`gym_gesture.skeleton.LAYOUTS`), raw as extracted
    keypoints  float32 (T, J, 3) NaN in frames where no person was found
    scores     float32 (T, J)
    detected   bool    (T,)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import InputError, MissingFileError
from .labels import canonical_label

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

    The id is cut after its first number; ids without a number are their own source.
    """
    match = re.match(r"^(.*?\d+)", clip_id)
    return match.group(1) if match else clip_id


def records_from_npz(path: str | Path, fps: float = 30.0) -> list[dict]:
    """Rows of the dataset schema from an archive in the `../shared/data/keypoints` format:
    key `"<label>/<clip id>"` -> array (T, 33, 4) of MediaPipe (x, y, z, visibility), NaN where no person."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises several types for a damaged zip
        raise InputError(f"{path}: not a readable .npz keypoint archive ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a bad input file, not a programming error
        raise InputError(  # noqa: TRY004
            f"{path}: a single .npy array, not an .npz keypoint archive of '<label>/<clip id>' keys")
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
            if array.ndim != 3 or array.shape[1:] != (33, 4):
                raise InputError(f"{path}: {key!r} has shape {array.shape}, expected (T, 33, 4)")
            array = array.astype(np.float32)
            detected = ~np.isnan(array).any(axis=(1, 2))
            try:
                label = canonical_label(label)
            except ValueError as error:
                raise InputError(f"{path}: {key!r}: {error}") from error
            rows.append({
                "label": label,
                "clip_id": clip_id,
                "source_id": source_id_from_clip_id(clip_id),
                "fps": float(fps),
                "width": 0,
                "height": 0,
                "backend": "mediapipe",
                "layout": "mediapipe33",
                "keypoints": array[..., :3],
                "scores": np.nan_to_num(array[..., 3]),
                "detected": detected,
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
