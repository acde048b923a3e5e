"""A long 720p "workout" video built from real clips, for the benchmarks: sets of one exercise each
(its clips looped to fill the set), the exercises in turn, until the wanted length.

Frames stream from the source clips to the encoder one at a time, so a 10-minute video needs no more
memory than a 10-second one. The result is cached: building the 10-minute one takes a few minutes.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import cv2

from gym_gesture.pose.video import VideoWriter, read_frames

SIZE = (1280, 720)
FPS = 30
SET_SECONDS = 30.0
# Exercises filmed at 720p among the real clips (`../shared/data/videos`), in workout order.
WORKOUT = ("squat", "plank", "russian twist", "pull up")
# A preview-quality source is enough: what is measured is decoding and pose, not the picture.
PRESET = "superfast"


def clip_label(path: Path) -> str:
    """The clip's label from the `manifest.json` beside it, else its name without a trailing number."""
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        labels = {entry["file"]: entry["label"] for entry in json.loads(manifest.read_text())}
        if path.name in labels:
            return labels[path.name]
    return re.sub(r"_\d+$", "", path.stem).replace("_", " ")


def workout_sets(clips: list[Path]) -> list[list[Path]]:
    """The clips grouped by exercise in `WORKOUT` order; all clips as one set if none is a workout exercise."""
    by_label = {}
    for clip in sorted(clips):
        by_label.setdefault(clip_label(clip), []).append(clip)
    sets = [by_label[label] for label in WORKOUT if label in by_label]
    return sets or [sorted(clips)]


def _workout_frames(clips: list[Path]):
    """Endless frames of `SIZE`: each exercise's clips in turn until its set is full, then the next exercise."""
    for exercise in itertools.cycle(workout_sets(clips)):
        set_frames = 0
        for clip in itertools.cycle(exercise):
            for frame in read_frames(clip, FPS, max_duration=None):
                image = frame.image
                yield image if image.shape[1::-1] == SIZE else cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA)
                set_frames += 1
            if set_frames >= SET_SECONDS * FPS:
                break


def make_workout_video(path: str | Path, seconds: float, clips: list[Path]) -> Path:
    """Write (once; an existing file is reused) a `seconds`-long H.264 video of `SIZE` at `FPS`."""
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.mp4")
    with VideoWriter(partial, FPS, preset=PRESET) as writer:
        for image in itertools.islice(_workout_frames(clips), round(seconds * FPS)):
            writer.write(image)
    partial.rename(path)  # only a finished video is ever found in the cache
    return path
