"""Live coaching on this machine (issue #15's targets): real clips played in real time through
`LiveSession`, as `gym-gesture live --video` plays them.

    python -m benchmarks.live                      # writes results/live.json and results/live.md
    python -m benchmarks.live --long-session-only  # 4. only, into the same files (the rest kept)

1. One session on a 720p clip: processed frames per second of session (at most the model's 10 fps) and
   the latency from a frame's arrival (when a camera would deliver it) to the update `push` returns.
2. Every clip of ../shared/data/videos with a rep count by eye: the last live update's label and reps
   against `predict`'s (the same model, abstain decision and rep counter on the whole clip).
3. Three sessions at once, each on its own thread and pose backend, sharing the model.
4. A 60-minute session (issue #30): the speed clip's poses replayed in a loop, as sets of its squat with
   rests between, so that pose estimation costs nothing and only the session's own work is timed: the
   median `push` per minute of session, at minute 60 against minute 1, and the process's memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/live.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import FIXTURE_CLIP, REPO_ROOT, SHARED_DATA, machine  # noqa: E402
from gym_gesture.pose.base import PoseBackend  # noqa: E402

TARGET_PROCESSED_PER_S = 10.0
TARGET_MEDIAN_LATENCY_S = 0.150
TARGET_REPS_OFF_BY = 1
TARGET_PROCESSED_PER_S_OF_THREE = 5.0
SPEED_CLIP = SHARED_DATA / "clips22" / "squat" / "mburgosfr-star_kelani-sbd-tracker__squat.mp4"  # 7 s, 720p
REP_COUNTS = REPO_ROOT / "tests" / "fixtures" / "rep_counts.json"
# A gym session lasts an hour (issue #30): a processed frame must cost then what it cost in minute 1.
LONG_SESSION_MINUTES = 60
LONG_SESSION_REPORTED = (1, 10, 20, 30, 40, 50, 60)
SET_LOOPS = 4  # a set: the speed clip's squat 4 times over (4 reps, 28 s)
REST_S = 60.0  # between sets, standing still: the clip's last pose held
TARGET_LATENCY_GROWTH = 1.2
TARGET_LONG_SESSION_LATENCY_S = 0.150


def record_poses(clip: Path, fps: float, backend_name: str = "mediapipe"):
    """The poses of `clip`'s frames at `fps` (MediaPipe's, by default), the first frame, and the backend's
    name and layout: what `ReplayedPose` hands back."""
    from gym_gesture.pose import create_backend
    from gym_gesture.pose.video import read_frames

    poses, first = [], None
    with create_backend(backend_name) as backend:
        for frame in read_frames(clip, fps):
            first = frame.image if first is None else first
            poses.append(backend(frame.image))
        return poses, first, backend.name, backend.layout


def workout(poses: list, set_loops: int, rest_frames: int) -> Iterator:
    """Sets of `poses` played `set_loops` times, `rest_frames` of the last pose held between them, forever."""
    return itertools.cycle(poses * set_loops + poses[-1:] * rest_frames)


class ReplayedPose(PoseBackend):
    """A pose backend that hands back recorded `poses` one by one whatever the frame: a session then costs
    the recognition only."""

    def __init__(self, poses: Iterator, name: str, layout: str):
        self.poses, self.name, self.layout = poses, name, layout

    def __call__(self, frame_rgb):
        return next(self.poses)


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def long_session(recognizer, clip: Path = SPEED_CLIP, minutes: int = LONG_SESSION_MINUTES) -> dict:
    """A `minutes`-long session of sets of `clip` (`SET_LOOPS` times over) with `REST_S` of standing still
    between, one frame a slot of the model's frame rate, pushed as fast as they are processed: each push's
    time, per minute of session, on the clock and in CPU time of the pushing thread (the session's work,
    all of it on that thread, whatever else the machine runs)."""
    from gym_gesture.inference.live import LiveSession

    started_on = machine()
    fps = float(recognizer.config.sample_fps)
    poses, frame, name, layout = record_poses(clip, fps)
    backend = ReplayedPose(workout(poses, SET_LOOPS, int(REST_S * fps)), name, layout)
    per_minute, cpu_per_minute, rows = [], [], []
    rss_before = _rss_mb()
    started = time.perf_counter()
    with LiveSession(recognizer, backend) as session:
        for minute in range(1, minutes + 1):
            latencies, cpu = [], []
            for slot in range(int((minute - 1) * 60 * fps), int(minute * 60 * fps)):
                pushed, pushed_cpu = time.perf_counter(), time.thread_time()
                session.push(frame, slot / fps)
                latencies.append(time.perf_counter() - pushed)
                cpu.append(time.thread_time() - pushed_cpu)
            per_minute.append(statistics.median(latencies))
            cpu_per_minute.append(statistics.median(cpu))
            if minute in LONG_SESSION_REPORTED:
                rows.append({"minute": minute, "median_push_ms": round(per_minute[-1] * 1000, 1),
                             "p90_push_ms": round(sorted(latencies)[int(0.9 * (len(latencies) - 1))] * 1000, 1),
                             "max_push_ms": round(max(latencies) * 1000, 1),
                             "median_push_cpu_ms": round(cpu_per_minute[-1] * 1000, 1), "rss_mb": round(_rss_mb())})
                print(f"minute {minute}: {rows[-1]}", flush=True)
        sets = session.summary()
        processed = session.frames_processed
    return {
        "machine": started_on, "clip": clip.name, "minutes": minutes,
        "set": f"the clip {SET_LOOPS} times over, {len(poses) / fps:g} s each",
        "rest_s": REST_S, "frames_processed": processed, "wall_s": round(time.perf_counter() - started, 1),
        "per_minute": rows, "median_push_ms_every_minute": [round(value * 1000, 1) for value in per_minute],
        "median_push_cpu_ms_every_minute": [round(value * 1000, 1) for value in cpu_per_minute],
        "latency_ratio_last_to_first": round(per_minute[-1] / per_minute[0], 3),
        "cpu_ratio_last_to_first": round(cpu_per_minute[-1] / cpu_per_minute[0], 3),
        "rss_before_mb": round(rss_before),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "sets": len(sets), "reps_per_set": sorted({workout_set.reps for workout_set in sets}),
    }


def long_session_figures(result: dict) -> list:
    last = result["per_minute"][-1]
    return [
        (f"median push, minute {result['minutes']} / minute 1 of one session", result["latency_ratio_last_to_first"],
         f"<= {TARGET_LATENCY_GROWTH:g}", result["latency_ratio_last_to_first"] <= TARGET_LATENCY_GROWTH),
        (f"median push CPU time, minute {result['minutes']} / minute 1 of one session",
         result["cpu_ratio_last_to_first"], f"<= {TARGET_LATENCY_GROWTH:g}",
         result["cpu_ratio_last_to_first"] <= TARGET_LATENCY_GROWTH),
        (f"median push, minute {result['minutes']} of one session", f"{last['median_push_ms']:.0f} ms",
         f"<= {TARGET_LONG_SESSION_LATENCY_S * 1000:.0f} ms",
         last["median_push_ms"] <= TARGET_LONG_SESSION_LATENCY_S * 1000),
        (f"peak RSS, {result['minutes']}-minute session", f"{result['peak_rss_mb']} MB", "", True),
    ]


def play(recognizer, clip: Path) -> dict:
    """One session on `clip` in real time: its last update and its speed."""
    from gym_gesture.inference.live import LiveSession
    from gym_gesture.inference.sources import play_video

    latencies, processed_latencies = [], []

    def timed(update, due):
        latency = time.monotonic() - due
        latencies.append(latency)
        if update.processed:
            processed_latencies.append(latency)

    with LiveSession(recognizer) as session:
        last = play_video(session, clip, on_update=timed)
    return {
        "clip": clip.name, "label": last.label, "abstain": last.abstain, "reps": last.reps,
        "session_s": round(session.seconds, 2), "frames_received": session.frames_received,
        "frames_processed": session.frames_processed,
        "processed_per_s": round(session.frames_processed / session.seconds, 2),
        "median_latency_s": round(statistics.median(processed_latencies), 4),
        "p90_latency_s": round(sorted(processed_latencies)[int(0.9 * (len(processed_latencies) - 1))], 4),
        "median_latency_all_frames_s": round(statistics.median(latencies), 4),
    }


def accuracy(recognizer, videos: Path) -> list[dict]:
    counts = json.loads(REP_COUNTS.read_text())["clips"]
    rows = []
    for name, by_eye in counts.items():
        prediction = recognizer.predict(videos / name)
        live = play(recognizer, videos / name)
        rows.append({"clip": name, "by_eye": by_eye["reps"], "predict_label": prediction.label,
                     "predict_abstain": prediction.abstain, "predict_reps": prediction.reps,
                     "live_label": live["label"], "live_abstain": live["abstain"], "live_reps": live["reps"],
                     "same_label": live["label"] == prediction.label,
                     "reps_within_1": abs(live["reps"] - prediction.reps) <= TARGET_REPS_OFF_BY})
        print(f"{name}: predict {prediction.label} {prediction.reps}, live {live['label']} {live['reps']}, "
              f"by eye {by_eye['reps']}", flush=True)
    return rows


def side_by_side(recognizer, clip: Path, sessions: int = 3) -> list[dict]:
    results = [None] * sessions

    def run(index):
        results[index] = play(recognizer, clip)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _loads(averages) -> str:
    """Load averages as `os.getloadavg()` prints them, whether read back from the JSON (a list) or not."""
    return str(tuple(averages))


def markdown(report: dict) -> str:
    single, three, rows = report["single"], report["three_at_once"], report["accuracy"]
    lines = ["# Live coaching: `python -m benchmarks.live`", "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; load average "
             f"{_loads(report['machine']['load_average_start'])} at the start, "
             f"{_loads(report['machine']['load_average_end'])} at "
             f"the end (`uptime`: {report['uptime']}). Clip for speed: `{single['clip']}` (1280x720, 30 fps), "
             "played in real time; pose (MediaPipe) at the model's 10 fps.", "",
             "| figure | value | target | met |", "|---|---:|---:|---|"]
    for name, value, target, met in report["figures"]:
        lines.append(f"| {name} | {value} | {target} | {'yes' if met else 'NO'} |")
    lines += ["", "Every clip of `../shared/data/videos` with a rep count by eye (`tests/fixtures/rep_counts.json`), "
              "played live to its end:", "",
              "| clip | by eye | predict | live | same label | reps within 1 |", "|---|---:|---|---|---|---|"]
    for row in rows:
        predict = f"{row['predict_label']}{' (abstain)' if row['predict_abstain'] else ''} {row['predict_reps']}"
        live = f"{row['live_label']}{' (abstain)' if row['live_abstain'] else ''} {row['live_reps']}"
        lines.append(f"| {row['clip']} | {row['by_eye']} | {predict} | {live} | {row['same_label']} | "
                     f"{row['reps_within_1']} |")
    lines += ["", f"Three at once: {', '.join(str(s['processed_per_s']) for s in three)} processed frames/s, "
              f"median latencies {', '.join(str(s['median_latency_s']) for s in three)} s.", ""]
    if "long_session" in report:
        long = report["long_session"]
        lines += [f"A {long['minutes']}-minute session (`--long-session-only`, load average "
                  f"{_loads(long['machine']['load_average_start'])} at its start): sets of `{long['clip']}`'s squat "
                  f"({long['set']}), {long['rest_s']:g} s standing still between, its MediaPipe poses replayed "
                  f"so that only the session's work is timed; {long['frames_processed']} frames processed in "
                  f"{long['wall_s']:g} s, {long['sets']} sets ({'/'.join(map(str, long['reps_per_set']))} reps). "
                  "Time of one `push` "
                  "(a processed frame) by minute of session, on the clock and in CPU time of the pushing thread "
                  "(the load of other work moves the first, not the second):", "",
                  "| minute | median | p90 | max | median CPU time | RSS |", "|---:|---:|---:|---:|---:|---:|"]
        for row in long["per_minute"]:
            lines.append(f"| {row['minute']} | {row['median_push_ms']} ms | {row['p90_push_ms']} ms | "
                         f"{row['max_push_ms']} ms | {row['median_push_cpu_ms']} ms | {row['rss_mb']} MB |")
        lines += ["", f"Peak RSS {long['peak_rss_mb']} MB ({long['rss_before_mb']} MB before the session).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import subprocess

    from gym_gesture.inference.recognizer import Recognizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "results" / "live.json"))
    parser.add_argument("--long-session-only", action="store_true",
                        help="run only the 60-minute session, into the existing report (the rest kept)")
    args = parser.parse_args(argv)
    if not SHARED_DATA.is_dir():
        print(f"needs the real clips of {SHARED_DATA}", file=sys.stderr)
        return 1
    out = Path(args.out)
    recognizer = Recognizer.from_pretrained()
    if args.long_session_only:
        report = json.loads(out.read_text())
        long = long_session(recognizer)
        recognizer.close()
        return _write(out, _with_long_session(report, long))
    report = {"machine": machine(), "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    play(recognizer, FIXTURE_CLIP)  # warm-up: imports, the first MediaPipe graph
    single = play(recognizer, SPEED_CLIP)
    three = side_by_side(recognizer, SPEED_CLIP)
    rows = accuracy(recognizer, SHARED_DATA / "videos")
    long = long_session(recognizer)
    recognizer.close()
    same = sum(row["same_label"] for row in rows)
    within = sum(row["reps_within_1"] for row in rows)
    report.update(single=single, three_at_once=three, accuracy=rows)
    report["figures"] = [
        ("processed frames per second, one session", single["processed_per_s"], f">= {TARGET_PROCESSED_PER_S:g}",
         single["processed_per_s"] >= TARGET_PROCESSED_PER_S - 0.05),  # 10 of 10 slots, rounded
        ("median latency, arrival to update (processed frames)", f"{single['median_latency_s'] * 1000:.0f} ms",
         f"<= {TARGET_MEDIAN_LATENCY_S * 1000:.0f} ms", single["median_latency_s"] <= TARGET_MEDIAN_LATENCY_S),
        ("p90 latency, processed frames", f"{single['p90_latency_s'] * 1000:.0f} ms", "", True),
        ("median latency, every frame pushed", f"{single['median_latency_all_frames_s'] * 1000:.0f} ms", "", True),
        ("clips ending with predict's label", f"{same} of {len(rows)}", f"{len(rows)} of {len(rows)}", same == len(rows)),
        ("clips ending with predict's reps +-1", f"{within} of {len(rows)}", f"{len(rows)} of {len(rows)}",
         within == len(rows)),
        ("processed frames per second, worst of 3 sessions at once", min(s["processed_per_s"] for s in three),
         f">= {TARGET_PROCESSED_PER_S_OF_THREE:g}",
         min(s["processed_per_s"] for s in three) >= TARGET_PROCESSED_PER_S_OF_THREE),
    ]
    import os

    report["machine"]["load_average_end"] = os.getloadavg()
    return _write(out, _with_long_session(report, long))


def _with_long_session(report: dict, long: dict) -> dict:
    """The report with `long` as its long session, its figures replacing any earlier run's."""
    figures = long_session_figures(long)
    names = {name for name, *_ in figures}
    kept = [figure for figure in report["figures"] if figure[0] not in names]
    return {**report, "long_session": long, "figures": kept + figures}


def _write(out: Path, report: dict) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
