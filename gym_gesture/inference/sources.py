"""Frames for a live session from where they come: a video file played as a camera would (`play_video`) or
an opened camera (`open_camera`, `play_camera`), each pushed to `live.LiveSession` with its time."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .live import LiveSession, LiveUpdate


def play_video(session: LiveSession, path, *, realtime: bool = True, on_update=None) -> LiveUpdate | None:
    """Feed a video file to `session` as a camera would, frame by frame with its own timestamps: in real
    time (`realtime`: each frame is pushed when its time comes, and a frame whose successor is already due
    is skipped, as a camera's stale frame is), or as fast as processing allows. `on_update(update, due)`
    sees every update with the monotonic time its frame was due; returns the last update."""
    from ..pose.video import read_ahead, read_frames

    started = None  # the clock starts with the first frame, as a camera's stream does
    update, previous_time = None, None
    for frame in read_ahead(read_frames(path, None)):
        if started is None:
            started = time.monotonic() - frame.time
        due = started + frame.time
        if realtime:
            step = frame.time - previous_time if previous_time is not None else float("inf")  # the first: never stale
            previous_time = frame.time
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif -delay > step:  # the next frame is due already: this one is stale
                continue
        update = session.push(frame.image, frame.time)
        if on_update is not None:
            on_update(update, due)
    return update


def open_camera(index: int):
    """An OpenCV capture of camera `index`, holding only its newest frame rather than a queue of old ones."""
    import cv2

    from ..core.errors import InputError

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise InputError(f"camera {index}: cannot be opened (no such camera, or it is in use)")
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def play_camera(session: LiveSession, capture, *, on_update=None) -> None:
    """Feed an opened camera (`open_camera`) to `session` until interrupted (Ctrl-C raises
    KeyboardInterrupt here) or the camera stops, then release it. `on_update(update, due)` as for
    `play_video`."""
    import cv2

    try:
        while True:
            grabbed, image = capture.read()
            arrived = time.monotonic()
            if not grabbed:
                return
            update = session.push(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), arrived)
            if on_update is not None:
                on_update(update, arrived)
    finally:
        capture.release()


__all__ = ["open_camera", "play_camera", "play_video"]
