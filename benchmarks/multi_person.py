"""More than one person in view (issue #29): real side-by-side composites, and the cost of following them.

    python -m benchmarks.multi_person        # prints the figures as JSON and writes results/multi_person.json

A composite puts a real exercise clip in one half of a 1280x720 frame and a real bystander (a man walking
towards the camera, looped) in the other, so that the person exercising is known (`side_by_side`; the tests
build theirs with it too). The benchmark measures today's single-person backend (`mediapipe`) and the
multi-person one (`mediapipe-people`, the default) on a one-person 720p clip and on a two-person 720p
composite, the backends in turn and the least of `--runs` passes kept, so that a busy machine weighs on both
alike: pose CPU time a frame, `predict`'s real-time factor, and the processed frames a second of a live
session; and, pass by pass, the one-person cost of the multi-person backend over the single-person one.
"""

from __future__ import annotations

import argparse
import os
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as `python benchmarks/multi_person.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gym_gesture.pose.video import VideoWriter, probe, read_frames  # noqa: E402 (after the path is set)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COMPOSITE_SIZE = (1280, 720)
COMPOSITE_FPS = 10.0
# A man walking towards the camera (Pose2Sim demo, 1.7 s): looped, he walks past again and again.
BYSTANDER = SHARED_DATA / "people" / "lab_walk_pose2sim_cam01.mp4"
ONE_PERSON_720P = SHARED_DATA / "clips22" / "squat" / "mburgosfr-star_kelani-sbd-tracker__squat.mp4"
EXERCISE = SHARED_DATA / "clips22" / "lateral raises" / "nicorobin28_vot-apps__lateralRaise.mp4"


def _fitted(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit `size` (width, height), keeping its shape, centered on black."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    scaled = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                        interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - scaled.shape[0]) // 2, (width - scaled.shape[1]) // 2
    canvas[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled
    return canvas


def side_by_side(exercise: Path, bystander: Path, out: Path, *, exercise_side: str = "left",
                 fps: float = COMPOSITE_FPS, size: tuple[int, int] = COMPOSITE_SIZE) -> Path:
    """A composite of the `exercise` clip in one half (`exercise_side`) and the `bystander` clip, looped to the
    exercise's length, in the other, at `fps`, written as H.264 to `out`. Each clip is scaled to fit its half;
    the exercise clip's half of the frame is `exercise_half(exercise_side)`."""
    if exercise_side not in ("left", "right"):
        raise ValueError(f"exercise_side must be left or right, got {exercise_side!r}")
    half = (size[0] // 2, size[1])
    passers_by = itertools.cycle([frame.image for frame in read_frames(bystander, fps)])
    with VideoWriter(out, fps, crf=18) as writer:
        for frame in read_frames(exercise, fps):
            halves = [_fitted(frame.image, half), _fitted(next(passers_by), half)]
            writer.write(np.hstack(halves if exercise_side == "left" else halves[::-1]))
    return out


def exercise_half(exercise_side: str) -> tuple[float, float, float, float]:
    """The crop (left, top, right, bottom, fractions of the frame) of a composite's exercise half."""
    return (0.0, 0.0, 0.5, 1.0) if exercise_side == "left" else (0.5, 0.0, 1.0, 1.0)


def pose_cost(clip: Path, runs: int) -> dict:
    """CPU milliseconds a frame of each backend on `clip`'s frames (decoded once, at the models' 10 fps), one
    value a pass of `runs`, the backends in turn, so that a busy machine weighs on both alike."""
    from gym_gesture.pose import create_backend

    frames = [frame.image for frame in read_frames(clip, COMPOSITE_FPS)]
    backends = {name: create_backend(name) for name in ("mediapipe", "mediapipe-people")}
    cost = {name: [] for name in backends}
    for _ in range(runs):
        for name, backend in backends.items():
            backend.reset()
            started = time.process_time()
            for image in frames:
                backend(image)
            cost[name].append((time.process_time() - started) / len(frames) * 1000)
    for backend in backends.values():
        backend.close()
    return cost


def predict_rtf(recognizers: dict, clips: dict[str, Path], runs: int) -> dict:
    """`predict`'s real-time factor (its seconds over the clip's) per (backend, clip), one value a pass of
    `runs`, the backends in turn."""
    rtf = {}
    for _ in range(runs):
        for backend, recognizer in recognizers.items():
            for clip_name, clip in clips.items():
                prediction = recognizer.predict(clip)
                rtf.setdefault(f"{backend} on {clip_name}", []).append(prediction.seconds / probe(clip).duration)
    return rtf


def least(values: dict, digits: int) -> dict:
    return {key: round(min(passes), digits) for key, passes in values.items()}


def paired_ratios(people: list[float], single: list[float]) -> dict:
    """The multi-person backend's cost over the single-person one's, pass by pass: each pair ran back to
    back, so a load that comes and goes weighs on both, where the ratio of the two least values mixes passes."""
    ratios = [a / b for a, b in zip(people, single)]
    return {"median": round(statistics.median(ratios), 3), "passes": [round(ratio, 3) for ratio in ratios]}


def live_rate(recognizer, clip: Path) -> float:
    """Processed frames a second of a live session playing `clip` in real time (`benchmarks.live`)."""
    from benchmarks.live import play

    return play(recognizer, clip)["processed_per_s"]


def main(argv: list[str] | None = None) -> int:
    from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, Recognizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="passes of each measurement; the least is kept")
    parser.add_argument("--cache", default=str(Path(__file__).resolve().parent / ".cache"))
    parser.add_argument("--out", default=str(REPO_ROOT / "results" / "multi_person.json"))
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    two_people = cache / "two_people_720p.mp4"
    if not two_people.is_file():
        side_by_side(EXERCISE, BYSTANDER, two_people)
    clips = {"one person (720p)": ONE_PERSON_720P, "two people (720p composite)": two_people}
    recognizers = {name: Recognizer.from_pretrained(DEFAULT_MODEL_DIR, backend=name)
                   for name in ("mediapipe", "mediapipe-people")}
    pose = {clip: pose_cost(path, args.runs) for clip, path in clips.items()}
    rtf = predict_rtf(recognizers, clips, args.runs)
    one = "one person (720p)"
    report = {
        "pose_cpu_ms_per_frame": {clip: least(costs, 2) for clip, costs in pose.items()},
        "predict_rtf": least(rtf, 3),
        # Issue #29's bound: one person in view costs at most 1.10 times the single-person backend.
        "one_person_ratio": {
            "pose_cpu": paired_ratios(pose[one]["mediapipe-people"], pose[one]["mediapipe"]),
            "predict_rtf": paired_ratios(rtf[f"mediapipe-people on {one}"], rtf[f"mediapipe on {one}"]),
        },
        # The least of the passes: a live session's first frames (graphs starting, a newcomer's crop) cost
        # slots, more on a busy machine.
        "live_processed_per_s": {f"{backend} on {clip}": min(live_rate(recognizer, path) for _ in range(args.runs))
                                 for backend, recognizer in recognizers.items() for clip, path in clips.items()},
        "load_average": list(os.getloadavg()),
    }
    for recognizer in recognizers.values():
        recognizer.close()
    print(json.dumps(report, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
