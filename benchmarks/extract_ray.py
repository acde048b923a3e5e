"""Extraction on Ray against local worker processes (issue #18): clips per second of `extract` with
`--workers 1` and `2` locally and with 1 and 2 Ray actors on a local Ray cluster of this machine, on the
same clips, and the Ray overhead per clip. Prints a table and writes JSON and Markdown.

    python -m benchmarks.extract_ray                                   # ../shared/data/videos -> results/extract_ray.*
    python -m benchmarks.extract_ray --limit 2 --out /tmp/extract_ray                  # smoke

The Ray cluster is started once before the runs and its start is timed apart: a user's runs join a cluster
that is already up. Each run, local or Ray, includes loading its backends. The overhead per clip is the
Ray round trip of one clip's job and result (the `ClipSource` out, a `PoseSequence` of the clips' median
length back) on a warm actor: what Ray adds to every clip, pose aside.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/extract_ray.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gym_gesture.data.clips import ClipSource, find_clips  # noqa: E402 (after the path is set)
from gym_gesture.data.extract import extract_dataset  # noqa: E402 (after the path is set)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = REPO_ROOT.parent / "shared" / "data" / "videos"
RUNS = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))
ROUND_TRIPS = 50


class _Echo:
    """A stand-in actor: answers the pose call with a stored result, so only Ray's part is timed."""

    def __init__(self, sequence):
        self.sequence = sequence

    def pose(self, clip: ClipSource, fps: float):
        return self.sequence, None


def _manifest(videos: list[str], limit: int | None, folder: Path) -> Path:
    """One manifest of the first `limit` clips (in id order) of the given folders or manifests."""
    clips = sorted((clip for given in videos for clip in find_clips(given)), key=lambda clip: clip.clip_id)[:limit]
    path = folder / "manifest.json"
    path.write_text(json.dumps([{"file": str(clip.path.absolute()), "label": clip.label} for clip in clips]))
    return path


def _median_sequence(dataset_dir: Path):
    from gym_gesture.data.dataset import load_pose_dataset
    from gym_gesture.pose.sequence import PoseSequence

    dataset = load_pose_dataset(dataset_dir).with_format("numpy")
    row = sorted(dataset, key=lambda row: len(row["detected"]))[len(dataset) // 2]
    return PoseSequence(keypoints=row["keypoints"], image_points=row["keypoints"][..., :2].copy(),
                        scores=row["scores"], detected=row["detected"], fps=float(row["fps"]),
                        width=int(row["width"]), height=int(row["height"]), layout=str(row["layout"]),
                        backend=str(row["backend"]))


def ray_round_trip_ms(sequence, clip: ClipSource) -> float:
    """Median ms of one `pose` call through Ray on a warm actor that does no pose work."""
    import ray

    actor = ray.remote(_Echo).options(num_cpus=1).remote(sequence)
    ray.get(actor.pose.remote(clip, 30.0))  # warm-up: the actor's start is not per clip
    times = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        ray.get(actor.pose.remote(clip, 30.0))
        times.append(time.perf_counter() - started)
    ray.kill(actor)
    return statistics.median(times) * 1000


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run(videos: list[str], limit: int | None, fps: float, scratch: Path, command: str) -> dict:
    import datasets
    import ray

    datasets.disable_progress_bars()  # one "Saving the dataset" bar a run would bury the log

    manifest = _manifest(videos, limit, scratch)
    clips = find_clips(manifest)
    report = {"command": command,
              "date": time.strftime("%Y-%m-%d %H:%M"), "cpu_cores": os.cpu_count(), "python": platform.python_version(),
              "ray": ray.__version__, "uptime_start": _uptime(), "clips": len(clips), "fps": fps, "runs": []}
    started = time.perf_counter()
    ray.init(address="local", num_cpus=max(worker for _, worker in RUNS), log_to_driver=False)
    report["ray_cluster_start_s"] = round(time.perf_counter() - started, 2)
    try:
        outputs = []
        for where, workers in RUNS:
            out = scratch / f"{where}-{workers}"
            print(f"{where}, {workers} worker(s) ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            extract_dataset(manifest, out, fps=fps, workers=workers, ray="local" if where == "ray" else None,
                            progress=False)
            wall = time.perf_counter() - started
            report["runs"].append({"where": where, "workers": workers, "wall_s": round(wall, 2),
                                   "clips_per_s": round(len(clips) / wall, 3)})
            outputs.append(out)
        arrows = [[path.read_bytes() for path in sorted(out.glob("data-*.arrow"))] for out in outputs]
        report["same_dataset_every_run"] = all(arrow == arrows[0] for arrow in arrows)
        sequence = _median_sequence(outputs[0])
        report["frames_median_clip"] = len(sequence)
        report["ray_overhead_ms_per_clip"] = round(ray_round_trip_ms(sequence, clips[0]), 2)
    finally:
        ray.shutdown()
    by_run = {(row["where"], row["workers"]): row["wall_s"] for row in report["runs"]}
    report["ray_minus_local_ms_per_clip"] = {
        str(workers): round((by_run["ray", workers] - by_run["local", workers]) / len(clips) * 1000, 1)
        for workers in (1, 2)}
    report["uptime_end"] = _uptime()
    return report


def markdown(report: dict) -> str:
    lines = ["# extract: local worker processes against Ray actors", "",
             f"`{report['command']}` on {report['date']}: {report['clips']} clips at {report['fps']:g} fps, "
             f"{report['cpu_cores']} CPU cores, Ray {report['ray']} (a local cluster of this machine). "
             f"The same dataset from every run: {'yes' if report['same_dataset_every_run'] else 'NO'}.", "",
             "| run | workers | wall s | clips/s |", "|---|---:|---:|---:|"]
    lines += [f"| {row['where']} | {row['workers']} | {row['wall_s']:.1f} | {row['clips_per_s']:.3f} |"
              for row in report["runs"]]
    difference = report["ray_minus_local_ms_per_clip"]
    lines += ["", f"- Ray overhead per clip (round trip of a clip's job and a {report['frames_median_clip']}-frame "
                  f"result on a warm actor): {report['ray_overhead_ms_per_clip']:.1f} ms",
              f"- Ray run minus local run, per clip (actor start and noise included): "
              f"{difference['1']} ms with 1 worker, {difference['2']} ms with 2",
              f"- Starting the local Ray cluster (once, not in the runs): {report['ray_cluster_start_s']:.1f} s",
              f"- Load (`uptime`) at the start: `{report['uptime_start']}`; at the end: `{report['uptime_end']}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", nargs="+", default=[str(DEFAULT_VIDEOS)],
                        help="class-folder trees or manifests, as extract reads them (default: ../shared/data/videos)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips, in clip-id order")
    parser.add_argument("--fps", type=float, default=30.0, help="extract's --fps (default: 30, extract's own)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "extract_ray",
                        help="writes OUT.json and OUT.md (default: results/extract_ray)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gym-gesture-extract-ray-") as scratch:
        command = " ".join(["python -m benchmarks.extract_ray", *(argv if argv is not None else sys.argv[1:])])
        report = run(args.videos, args.limit, args.fps, Path(scratch), command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
