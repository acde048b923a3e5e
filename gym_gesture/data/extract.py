"""`gym-gesture extract`: a class-folder tree of videos (or a manifest of them) -> a pose dataset on disk.

Each finished clip is written at once, atomically, into a work folder inside the output
(`DATASET_DIR/.clips/<clip id>.npz`); a restarted run skips those clips. The dataset is assembled from
the work folder in clip-id order, so an interrupted and restarted run ends with the same dataset as an
uninterrupted one, however the clips were spread. The workers (this process, local worker processes, or
Ray actors: `extract_ray`) only compute poses; this process writes every file. Videos that cannot be
read are listed in the summary and in `DATASET_DIR/extract_report.json`, and skipped.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .dataset import dataset_from_records, source_id_from_clip_id
from ..core.errors import InputError, MissingFileError
from .labels import canonical_label, normalise_label

if TYPE_CHECKING:
    from ..pose.sequence import PoseSequence

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"})
WORK_DIR = ".clips"
REPORT_FILE = "extract_report.json"
MANIFEST_FILE = "manifest.json"
_SETTINGS_FILE = "settings.json"


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
    """The labelled videos of a class-folder tree `<class name>/<video file>`, or of a `MANIFEST_FILE`
    (a JSON list of {"file": path relative to the manifest, "label": class name, ...}), sorted by clip id.

    `video_dir` is the tree's folder, the manifest itself, or a folder of videos with no class folders
    beside its manifest (a flat folder). A manifest entry may also give the clip's `clip_id` (default: the
    file stem), `source_id` and `crop` (see `ClipSource`): one file can then be several views. Labels are mapped onto the canonical classes; the clip id is the
    file stem and must be unique. A label outside the 22 is a mistake (a typo), unless `other_exercises`:
    then it is kept as written (lower case), a real exercise to abstain on, as the archives' are.
    """
    label_of = normalise_label if other_exercises else canonical_label
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


def _check_settings(work_dir: Path, settings: dict) -> None:
    """A work folder resumes only the run that started it: mixing backends or rates would corrupt it."""
    path = work_dir / _SETTINGS_FILE
    if path.exists():
        started = json.loads(path.read_text())
        if started != settings:
            raise InputError(f"{work_dir} holds clips of an unfinished run with {started}; rerun with those "
                             f"settings to resume it, or delete that folder to start over")
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, sort_keys=True))


def _clip_file(work_dir: Path, clip_id: str) -> Path:
    return work_dir / f"{clip_id}.npz"


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


def _save_clip(work_dir: Path, clip: ClipSource, sequence: PoseSequence) -> None:
    """Written under a temporary name and renamed: an interruption never leaves a half file as finished."""
    target = _clip_file(work_dir, clip.clip_id)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, keypoints=sequence.keypoints, scores=sequence.scores, detected=sequence.detected,
                 fps=sequence.fps, width=sequence.width, height=sequence.height,
                 layout=sequence.layout, backend=sequence.backend, label=clip.label,
                 **({"source_id": clip.source_id} if clip.source_id else {}))
    os.replace(partial, target)


_worker_backend = None


def _start_worker(backend_name: str) -> None:
    global _worker_backend
    from ..pose import create_backend

    _worker_backend = create_backend(backend_name)


def _pose_in_worker(job: tuple[ClipSource, float]) -> tuple[ClipSource, PoseSequence | None, str | None]:
    clip, fps = job
    return clip, *clip_pose(clip, _worker_backend, fps)


def _run_locally(clips: list[ClipSource], backend: str, fps: float, workers: int):
    """(clip, poses, error) as clips finish: in this process, or in worker processes that each load the
    backend once."""
    jobs = [(clip, fps) for clip in clips]
    if workers == 1 or len(jobs) == 1:
        _start_worker(backend)
        try:
            yield from map(_pose_in_worker, jobs)
        finally:
            _worker_backend.close()
        return
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _start_worker, (backend,))
    try:
        yield from pool.imap_unordered(_pose_in_worker, jobs)
    finally:
        pool.terminate()
        pool.join()


def _record(clip_id: str, path: Path, source_per_clip: bool) -> dict:
    with np.load(path) as saved:
        return {
            "label": str(saved["label"]),
            "clip_id": clip_id,
            "source_id": (str(saved["source_id"]) if "source_id" in saved else
                          clip_id if source_per_clip else source_id_from_clip_id(clip_id)),
            "fps": float(saved["fps"]),
            "width": int(saved["width"]),
            "height": int(saved["height"]),
            "backend": str(saved["backend"]),
            "layout": str(saved["layout"]),
            "keypoints": saved["keypoints"],
            "scores": saved["scores"],
            "detected": saved["detected"],
        }


def extract_dataset(video_dir: str | Path, out_dir: str | Path, *, backend: str = "mediapipe",
                    fps: float = 30.0, workers: int | None = None, limit: int | None = None,
                    progress: bool = True, source_per_clip: bool = False, ray: str | None = None,
                    other_exercises: bool = False) -> dict:
    """Extract every clip of `video_dir` into a pose dataset saved at `out_dir`; returns the report.

    `workers`: local worker processes (default 1), or with `ray` the number of Ray actors (default: as
    many as the cluster has CPUs, GPUs for a GPU backend). `ray`: the address of a Ray cluster to run the
    clips on (`extract_ray.connect`); the work folder and the dataset are written here either way.

    `source_per_clip`: every clip is its own source video (a collection of unrelated clips such as
    clips22); otherwise clip ids that share their first number come from one (`source_id_from_clip_id`).

    `other_exercises`: keep clips of exercises outside the 22 (negatives) instead of refusing their label.

    `limit` stops after trying that many more clips, without assembling the dataset (a partial run,
    as if interrupted). The report: {"clips", "skipped_already_done", "failed": [{"path", "error"}], ...}.
    """
    from tqdm import tqdm

    from ..pose import POSE_BACKENDS

    if backend not in POSE_BACKENDS:
        raise InputError(f"unknown pose backend {backend!r}; available: {', '.join(sorted(POSE_BACKENDS))}")
    if not fps > 0:
        raise InputError(f"--fps must be positive, got {fps}")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    work_dir = out_dir / WORK_DIR
    if (out_dir / "state.json").exists() and not work_dir.exists():
        raise InputError(f"{out_dir} already holds a finished dataset; remove it or choose another --out")
    clips = find_clips(video_dir, other_exercises)
    _check_settings(work_dir, {"backend": backend, "fps": float(fps)})
    done = {clip.clip_id for clip in clips if _clip_file(work_dir, clip.clip_id).exists()}
    todo = [clip for clip in clips if clip.clip_id not in done][:limit]
    if not todo:
        results = iter(())
    elif ray is None:
        results = _run_locally(todo, backend, float(fps), workers or 1)
    else:
        from .extract_ray import run_on_ray  # Ray is imported only here: an optional extra

        results = run_on_ray(todo, backend, float(fps), workers, ray)
    failed = []
    with tqdm(total=len(clips), initial=len(done), unit="clip", desc="extract", disable=not progress) as bar:
        for clip, sequence, error in results:
            if error is None:
                _save_clip(work_dir, clip, sequence)
            else:
                failed.append({"path": str(clip.path), "error": error})
            bar.update()
    failed.sort(key=lambda failure: failure["path"])
    finished = [clip for clip in clips if _clip_file(work_dir, clip.clip_id).exists()]
    report = {"video_dir": str(video_dir), "backend": backend, "fps": float(fps),
              "clips": len(finished), "skipped_already_done": len(done), "failed": failed,
              "complete": limit is None}
    if limit is not None:
        return report
    if not finished:
        raise InputError(f"{video_dir}: no clip could be extracted ({len(failed)} failed)")
    dataset = dataset_from_records([_record(clip.clip_id, _clip_file(work_dir, clip.clip_id), source_per_clip)
                                    for clip in finished])
    dataset.save_to_disk(str(out_dir))
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    shutil.rmtree(work_dir)
    return report
