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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import InputError
from ..pose import DEFAULT_BACKEND
from .clips import ClipSource, clip_pose, find_clips
from .dataset import dataset_from_records, source_id_from_clip_id

if TYPE_CHECKING:
    from ..pose.sequence import PoseSequence

WORK_DIR = ".clips"
REPORT_FILE = "extract_report.json"
_SETTINGS_FILE = "settings.json"


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


def extract_dataset(video_dir: str | Path, out_dir: str | Path, *, backend: str = DEFAULT_BACKEND,
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


def format_extract_report(report: dict, out_dir: str | Path) -> str:
    """One line on a run's `report`: the clips saved to `out_dir` and those that failed, or, after a partial
    run (`limit`), how far it got."""
    failed = len(report["failed"])
    if not report["complete"]:
        return f"{report['clips']} clips done so far, {failed} failed; rerun to continue"
    return (f"{report['clips']} clips saved to {out_dir} ({report['skipped_already_done']} from an earlier run), "
            f"{failed} failed; report: {out_dir}/{REPORT_FILE}")
