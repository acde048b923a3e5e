"""The clips of an extraction run: the labelled videos of a class-folder tree or a manifest (`find_clips`),
and the one per-clip step, a clip through a pose backend (`clip_pose`), that a local run (`extract`) and
the Ray actors (`extract_ray`) share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InputError, MissingFileError
from .labels import canonical_label, normalise_label

if TYPE_CHECKING:
    from ..pose.sequence import PoseSequence

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"})
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ClipSource:
    label: str
    clip_id: str
    path: Path


def _clips_of_tree(video_dir: Path, label_of) -> list[tuple[str, Path]]:
    labelled = []
    for folder in sorted(p for p in video_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = label_of(folder.name)
        labelled += [(label, path) for path in sorted(folder.iterdir())
                     if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES]
    return labelled


def _clips_of_manifest(manifest: Path, label_of) -> list[tuple[str, Path]]:
    try:
        entries = json.loads(manifest.read_text())
        return [(label_of(entry["label"]), manifest.parent / entry["file"]) for entry in entries]
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{manifest}: not a list of {{\"file\", \"label\"}} entries ({error})") from error


def find_clips(video_dir: str | Path, other_exercises: bool = False) -> list[ClipSource]:
    """The labelled videos of a class-folder tree `<class name>/<video file>`, or of a `MANIFEST_FILE`
    (a JSON list of {"file": path relative to the manifest, "label": class name, ...}), sorted by clip id.

    `video_dir` is the tree's folder, the manifest itself, or a folder of videos with no class folders
    beside its manifest (a flat folder). Labels are mapped onto the canonical classes; the clip id is the
    file stem and must be unique. A label outside the 22 is a mistake (a typo), unless `other_exercises`:
    then it is kept as written (lower case), a real exercise to abstain on, as the archives' are.
    """
    label_of = normalise_label if other_exercises else canonical_label
    video_dir = Path(video_dir)
    if video_dir.is_file():
        labelled = _clips_of_manifest(video_dir, label_of)
    elif not video_dir.is_dir():
        raise MissingFileError(f"{video_dir}: no such folder")
    else:
        labelled = _clips_of_tree(video_dir, label_of)
        if not labelled and (video_dir / MANIFEST_FILE).is_file():
            labelled = _clips_of_manifest(video_dir / MANIFEST_FILE, label_of)
    clips, seen = [], {}
    for label, path in labelled:
        if path.stem in seen:
            raise InputError(f"two videos share the clip id {path.stem!r}: {seen[path.stem]} and {path}")
        seen[path.stem] = path
        clips.append(ClipSource(label, path.stem, path))
    if not clips:
        raise InputError(f"{video_dir}: no videos found in class folders (<class name>/<video file>) "
                         f"or in a {MANIFEST_FILE}")
    return sorted(clips, key=lambda clip: clip.clip_id)


def clip_pose(clip: ClipSource, backend, fps: float) -> tuple[PoseSequence | None, str | None]:
    """One clip through `backend`: (its poses, None), or (None, why it could not be read).

    The one per-clip step of every way of running: this process, local worker processes, Ray actors.
    """
    from ..pose.sequence import extract_clip

    try:
        sequence = extract_clip(clip.path, backend, fps)
        if len(sequence) == 0:
            raise InputError(f"{clip.path}: no frames")
    except Exception as error:  # one bad clip must never end the run: it is reported instead
        return None, str(error) or type(error).__name__
    return sequence, None
