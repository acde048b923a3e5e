"""The clips of an extraction run: the labeled videos of a class-folder tree or a manifest (`find_clips`),
and the one per-clip step, a clip through a pose backend (`clip_pose`), that a local run (`extract`) and
the Ray actors (`extract_ray`) share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InputError, MissingFileError
from .labels import canonical_label, normalize_label

if TYPE_CHECKING:
    from ..pose.sequence import PoseSequence

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"})
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ClipSource:
    """One video to extract. A manifest may give a clip its own `source_id` (takes of one performance
    filmed from two sides are one source, so a split never puts them on both sides) and a `crop` of the
    upright frame (left, top, right, bottom as fractions: one view of a split-screen clip)."""

    label: str
    clip_id: str
    path: Path
    source_id: str | None = None
    crop: tuple[float, float, float, float] | None = None


def _clips_of_tree(video_dir: Path, label_of) -> list[ClipSource]:
    clips = []
    for folder in sorted(p for p in video_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = label_of(folder.name)
        clips += [ClipSource(label, path.stem, path) for path in sorted(folder.iterdir())
                  if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES]
    return clips


def _crop(entry: dict) -> tuple[float, float, float, float] | None:
    if "crop" not in entry:
        return None
    crop = tuple(float(value) for value in entry["crop"])
    if len(crop) != 4 or not (0 <= crop[0] < crop[2] <= 1 and 0 <= crop[1] < crop[3] <= 1):
        raise ValueError(f"crop {entry['crop']!r} is not [left, top, right, bottom] fractions of the frame")
    return crop


def _clips_of_manifest(manifest: Path, label_of) -> list[ClipSource]:
    try:
        entries = json.loads(manifest.read_text())
        clips = []
        for entry in entries:
            path = manifest.parent / entry["file"]
            clips.append(ClipSource(label_of(entry["label"]), str(entry.get("clip_id", path.stem)), path,
                                    entry.get("source_id"), _crop(entry)))
        return clips
    except InputError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{manifest}: not a list of {{\"file\", \"label\"}} entries ({error})") from error


def find_clips(video_dir: str | Path, other_exercises: bool = False) -> list[ClipSource]:
    """The labeled videos of a class-folder tree `<class name>/<video file>`, or of a `MANIFEST_FILE`
    (a JSON list of {"file": path relative to the manifest, "label": class name, ...}), sorted by clip id.

    `video_dir` is the tree's folder, the manifest itself, or a folder of videos with no class folders
    beside its manifest (a flat folder). Labels are mapped onto the canonical classes; the clip id is the
    file stem and must be unique. A manifest entry may also give the clip's `clip_id`, `source_id` and
    `crop` (see `ClipSource`): one file can then be several views. A label outside the 22 is a mistake (a
    typo), unless `other_exercises`: then it is kept as written (lower case), a real exercise to abstain
    on, as the archives' are.
    """
    label_of = normalize_label if other_exercises else canonical_label
    video_dir = Path(video_dir)
    if video_dir.is_file():
        clips = _clips_of_manifest(video_dir, label_of)
    elif not video_dir.is_dir():
        raise MissingFileError(f"{video_dir}: no such folder")
    else:
        clips = _clips_of_tree(video_dir, label_of)
        if not clips and (video_dir / MANIFEST_FILE).is_file():
            clips = _clips_of_manifest(video_dir / MANIFEST_FILE, label_of)
    seen = {}
    for clip in clips:
        if clip.clip_id in seen:
            raise InputError(f"two videos share the clip id {clip.clip_id!r}: {seen[clip.clip_id]} and {clip.path}")
        seen[clip.clip_id] = clip.path
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
        sequence = extract_clip(clip.path, backend, fps, crop=clip.crop)
        if len(sequence) == 0:
            raise InputError(f"{clip.path}: no frames")
    except Exception as error:  # one bad clip must never end the run: it is reported instead
        return None, str(error) or type(error).__name__
    return sequence, None
