"""Live coaching: frames from a camera in, the exercise, the rep count and a form cue out, as they happen.

`LiveSession.push(frame_rgb, timestamp_s)` is the one live path of the CLI (`gym-gesture live`) and the
app's live tab. It runs `predict`'s chain on the session's pose sequence as it grows:

- the pose backend runs on one frame per slot of the model's `sample_fps` (10 fps for the shipped model,
  as `predict` resamples a clip); the frames in between get the last pose drawn over them, nothing more;
- windows are cut where `predict` cuts them (every `window_stride` frames from the first frame with a
  person, plus one ending on the newest frame, which the next one replaces), each classified once;
- the timeline is `timeline.segments_from_windows` over all of them, and the segment going on now is
  described by `timeline.describe_segments`: the same abstain decision, rep counter and form model as
  `predict`. A change of exercise starts a new segment, so its count starts at 0.
- A set ends when `SET_REST_S` pass without a rep, and the next one starts at most `SET_REST_S` before
  its first rep: the rest between is no set, and its frames never widen the range the rep counter's
  thresholds sit in (a long still stretch would hide the next reps from it).

A frame that arrives while another is being processed is not queued: `push` hands back the latest update
at once, drawn on the new frame, so the lag never grows. `summary()` gives the sets so far in the
workout-summary form (`summary.workout_sets`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..data.windows import windows_from_sequence
from ..analysis.form import GOOD
from ..render.overlay import draw_pose
from ..pose import create_backend
from ..pose.base import PoseBackend, PoseFrame
from ..pose.sequence import PoseSequence
from ..analysis.prediction import SCHEMA_VERSION, Segment
from ..analysis.reps import REP_SIGNALS
from ..analysis.summary import WorkoutSet, summary_json, workout_sets
from ..analysis.timeline import (RawSegment, describe_segments, not_sure_reason, segments_from_windows, smooth_probabilities,
                       span_sample)

# Longer than the slowest rep `reps.count_cycles` counts (8 s), so a slow rep never splits a set.
SET_REST_S = 10.0
# A set ended by rest is cut this long after its last rep: the way back to rest stays in it.
SET_END_AFTER_REP_S = 1.0
# Slots skipped (a busy machine, a stalled camera) are interpolated between the poses either side up to
# this long; a longer gap has no person in it, as a clip's frames with nobody.
MAX_INTERPOLATED_GAP_S = 0.5
# The abstain reason while nobody is in view (the verdict is prediction.NO_PERSON).
NO_PERSON_REASON = "no person in view"


@dataclass
class LiveUpdate:
    """What the person sees after a frame: the exercise of the segment going on (None before the first
    window), its probability, why not to name it (or None), the reps of the current set, a form cue (push
    ups) and the frame with the skeleton drawn. `processed`: the pose backend ran on this very frame."""

    label: str | None
    probability: float | None
    abstain: str | None
    reps: int
    form: str | None
    overlay: np.ndarray
    timestamp_s: float
    processed: bool = False


@dataclass
class _Window:
    start: float
    end: float
    probabilities: np.ndarray


class _Growing:
    """An array that grows along its first axis, doubling its storage, so appending is cheap and the
    frames so far are one contiguous view."""

    def __init__(self, shape: tuple[int, ...], dtype, fill):
        self._data = np.full((256, *shape), fill, dtype)
        self._fill = fill
        self.size = 0

    def extend(self, rows: np.ndarray) -> None:
        while self.size + len(rows) > len(self._data):
            grown = np.full((2 * len(self._data), *self._data.shape[1:]), self._fill, self._data.dtype)
            grown[:self.size] = self._data[:self.size]
            self._data = grown
        self._data[self.size:self.size + len(rows)] = rows
        self.size += len(rows)

    @property
    def view(self) -> np.ndarray:
        return self._data[:self.size]


class LiveSession:
    """One person training in front of one camera, recognised live with `recognizer`'s model.

        session = LiveSession(recognizer)
        for image, seconds in camera:
            update = session.push(image, seconds)   # update.label, update.reps, update.form, update.overlay
        sets = session.summary()
        session.close()

    The session runs its own pose backend (a new one of the recognizer's kind unless `backend` is given),
    since a tracker follows one person: sessions side by side share the model, not the backend."""

    def __init__(self, recognizer, backend: PoseBackend | None = None, *, set_rest_s: float = SET_REST_S):
        self.recognizer = recognizer
        self.config = recognizer.config
        self.fps = float(self.config.sample_fps)
        self.set_rest_s = set_rest_s
        self._owns_backend = backend is None
        self.backend = create_backend(recognizer.backend.name) if backend is None else backend
        self.backend.reset()
        self.layout = self.backend.layout
        self._lock = threading.Lock()
        self._keypoints = None  # _Growing (frames, J, C): model coordinates, NaN where nobody
        self._detected = _Growing((), bool, False)
        self._first_time: float | None = None
        self._last_pose: PoseFrame | None = None
        self._anchor: int | None = None  # the first frame with a person: windows are cut from there
        self._windows: list[_Window] = []  # predict's windows so far
        self._newest: _Window | None = None  # the window ending on the newest frame, when off predict's grid
        self._set_ends: list[float] = []  # seconds where a set ended by rest
        self._set_starts: list[float] = []  # seconds where a set began after a rest, or getting ready
        self.frames_received = 0
        self.frames_processed = 0
        # (label, probability, abstain, reps, form), replaced whole: a concurrent caller reads one state.
        self._state = (None, None, NO_PERSON_REASON, 0, None)

    # -- frames in ---------------------------------------------------------------------------------------

    def push(self, frame_rgb: np.ndarray, timestamp_s: float) -> LiveUpdate:
        """The update after a camera frame (RGB uint8) taken at `timestamp_s` (seconds, any origin, rising).

        Runs the pose backend and the recognition when the frame opens a new slot of the model's frame
        rate and no other frame is being processed; otherwise returns at once with the latest update
        drawn on this frame."""
        self.frames_received += 1
        if self._first_time is None:
            self._first_time = timestamp_s
        slot = math.floor((timestamp_s - self._first_time) * self.fps + 1e-6)
        if slot >= self._detected.size and self._lock.acquire(blocking=False):
            try:
                if slot >= self._detected.size:  # another caller may have taken the slot meanwhile
                    self._process(frame_rgb, slot)
                    return self._update(frame_rgb, timestamp_s, processed=True)
            finally:
                self._lock.release()
        return self._update(frame_rgb, timestamp_s, processed=False)

    def _update(self, frame_rgb: np.ndarray, timestamp_s: float, processed: bool) -> LiveUpdate:
        label, probability, abstain, reps, form = self._state
        pose = self._last_pose
        overlay = frame_rgb
        if pose is not None and pose.detected:
            overlay = draw_pose(frame_rgb, pose.image_points, pose.scores, self.layout)
        return LiveUpdate(label, probability, abstain, reps, form, overlay, timestamp_s, processed)

    def _process(self, frame_rgb: np.ndarray, slot: int) -> None:
        pose = self.backend(frame_rgb)
        self.frames_processed += 1
        height, width = frame_rgb.shape[:2]
        coordinates = PoseSequence(pose.keypoints[None], pose.image_points[None], pose.scores[None],
                                   np.array([pose.detected]), self.fps, width, height, self.layout,
                                   self.backend.name).model_coordinates(self.config.num_channels)
        if self._keypoints is None:
            self._keypoints = _Growing(coordinates.shape[1:], np.float32, np.nan)
        first_new = self._detected.size
        self._append_gap(slot - first_new, coordinates[0], pose.detected)
        self._keypoints.extend(coordinates)
        self._detected.extend(np.array([pose.detected]))
        self._last_pose = pose
        if self._anchor is None and pose.detected:
            self._anchor = slot
        self._cut_windows(first_new)
        self._state = self._current_state()

    def _append_gap(self, missing: int, keypoints: np.ndarray, detected: bool) -> None:
        """Fill `missing` skipped slots before a new pose: interpolated between the poses either side when
        both have a person and the gap is short, else frames with nobody."""
        if missing <= 0:
            return
        previous = self._keypoints.view[-1] if self._keypoints.size else None
        if (previous is not None and detected and self._detected.view[-1]
                and missing <= MAX_INTERPOLATED_GAP_S * self.fps):
            steps = np.arange(1, missing + 1, dtype=np.float32)[:, None, None] / (missing + 1)
            self._keypoints.extend(previous + steps * (keypoints - previous))
            self._detected.extend(np.ones(missing, bool))
        else:
            self._keypoints.extend(np.full((missing, *keypoints.shape), np.nan, np.float32))
            self._detected.extend(np.zeros(missing, bool))

    # -- windows and the timeline ------------------------------------------------------------------------

    def _window_ending_at(self, end: int) -> _Window | None:
        """The model's window of the frames up to `end` (exclusive), as `predict` cuts it: the last
        `num_frames` frames, or all frames since the first person when fewer; None when the person is
        missing in too many of them."""
        start = max(self._anchor, end - self.config.num_frames)
        windows = windows_from_sequence(self._keypoints.view[start:end], self.layout, self.fps, self.config,
                                        stride=self.config.num_frames)
        if len(windows) == 0:
            return None
        probabilities = _one_thread(self.recognizer.window_probabilities, windows.keypoints[-1:],
                                    windows.attention_mask[-1:])
        span = windows.spans[-1] + start / self.fps
        return _Window(float(span[0]), float(span[1]), probabilities[0])

    def _cut_windows(self, first_new: int) -> None:
        """Classify the windows of `predict`'s grid that end on the new frames, and the one ending on the newest."""
        self._newest = None
        if self._anchor is None:
            return
        length, stride = self.config.num_frames, self.config.window_stride
        for end in range(max(first_new + 1, self._anchor + length), self._detected.size + 1):
            if (end - self._anchor - length) % stride == 0:
                window = self._window_ending_at(end)
                if window is not None:
                    self._windows.append(window)
        if not self._windows or self._windows[-1].end * self.fps < self._detected.size - 0.5:
            self._newest = self._window_ending_at(self._detected.size)

    def _raw_segments(self) -> tuple[list[RawSegment], list[_Window]]:
        windows = self._windows + ([self._newest] if self._newest is not None else [])
        if not windows:
            return [], windows
        segments = segments_from_windows([w.start for w in windows], [w.end for w in windows],
                                         np.stack([w.probabilities for w in windows]), self.recognizer.labels,
                                         min_probability=self.recognizer.thresholds.min_probability)
        return segments, windows

    def _sets_of(self, segment: RawSegment) -> list[RawSegment]:
        """A segment cut where sets ended and began."""
        cuts = sorted(cut for cut in self._set_ends + self._set_starts if segment.start < cut < segment.end)
        bounds = [segment.start, *cuts, segment.end]
        return [replace(segment, start=start, end=end) for start, end in zip(bounds, bounds[1:])]

    def _describe(self, segments: list[RawSegment]) -> list[Segment]:
        return describe_segments(segments, self._keypoints.view, self.layout, self.fps, self._detected.view,
                                 form_model=self.recognizer.form_model, thresholds=self.recognizer.thresholds)

    def _current_state(self):
        """(label, probability, abstain, reps, form) of the segment going on now."""
        segments, windows = self._raw_segments()
        now = self._detected.size / self.fps
        if not windows or windows[-1].end < now - 0.5 / self.fps:
            return None, None, NO_PERSON_REASON, 0, None
        if not segments or segments[-1].end < windows[-1].end:  # the newest windows name no exercise
            top = smooth_probabilities(np.stack([w.probabilities for w in windows]))[-1]
            label, probability = self.recognizer.labels[int(top.argmax())], float(top.max())
            reason = span_sample(self._keypoints.view, self.layout, self.fps, self._detected.view,
                                 windows[-1].start, windows[-1].end, label, probability).reason(
                self.recognizer.thresholds)
            return label, probability, reason or not_sure_reason(probability, self.recognizer.thresholds), 0, None
        piece = self._sets_of(segments[-1])[-1]
        current = self._describe([piece])[0]
        if current.exercise in REP_SIGNALS and not current.reps and now - piece.start > self.set_rest_s:
            # No rep yet: resting or getting ready. The set starts later, when its reps do.
            if self._set_starts and self._set_starts[-1] == piece.start:
                self._set_starts[-1] = now - self.set_rest_s
            else:
                self._set_starts.append(now - self.set_rest_s)
            current = self._describe(self._sets_of(segments[-1])[-1:])[0]
        elif current.reps and now - current.rep_times[-1] > self.set_rest_s:
            self._set_ends.append(current.rep_times[-1] + SET_END_AFTER_REP_S)
            current = self._describe(self._sets_of(segments[-1])[-1:])[0]
        return current.exercise, current.probability, current.abstain, current.reps, _form_cue(current)

    # -- the session so far ------------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        """The timeline of the session so far, in `predict`'s `segments` form (times in seconds from the
        first frame), each set its own segment; the rest after a set (no rep since it ended) is left out."""
        with self._lock:
            if self._keypoints is None:
                return []
            segments, _ = self._raw_segments()
            pieces = [piece for segment in segments for piece in self._sets_of(segment)]
            described = self._describe(pieces)
        return [segment for piece, segment in zip(pieces, described) if not self._is_rest(piece, segment)]

    def _is_rest(self, piece: RawSegment, segment: Segment) -> bool:
        """No rep between a set's end and the next set's start: rest, or getting ready."""
        at = (lambda cuts, seconds: any(abs(cut - seconds) < 1e-9 for cut in cuts))
        return (segment.exercise in REP_SIGNALS and segment.reps == 0
                and (at(self._set_ends, piece.start) or at(self._set_starts, piece.end)))

    def summary(self) -> list[WorkoutSet]:
        """The sets so far, in the workout-summary form (`summary.workout_sets`)."""
        return workout_sets(self.segments())

    def to_json(self) -> dict:
        """The session's summary as one JSON object: its `sets` (`summary.summary_json`) and its `segments`
        in the form of `predict --json` (the same SCHEMA_VERSION), with the frames received and processed."""
        segments = self.segments()
        return {"schema_version": SCHEMA_VERSION, **summary_json(workout_sets(segments)),
                "segments": [asdict(segment) for segment in segments], "seconds": round(self.seconds, 2),
                "frames_received": self.frames_received, "frames_processed": self.frames_processed,
                "backend": self.backend.name, "model": self.recognizer.model_name}

    @property
    def seconds(self) -> float:
        """Seconds of the session so far, at the model's frame rate."""
        return self._detected.size / self.fps

    def close(self) -> None:
        if self._owns_backend:
            self.backend.close()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _one_thread(function, *args):
    """`function(*args)` with torch on one thread in the calling thread (OpenMP's setting is per thread).
    On one window, torch's threads wait on each other more than they work: on 2 busy cores a window took
    about 100 ms on 2 threads against about 1.5 ms on 1, and live sessions run side by side."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return function(*args)
    finally:
        torch.set_num_threads(threads)


def _form_cue(segment: Segment) -> str | None:
    if segment.form is None:
        return None
    return segment.form.verdict if segment.form.verdict == GOOD else f"{segment.form.verdict}: {segment.form.hint}"


def play_video(session: LiveSession, path, *, realtime: bool = True, on_update=None) -> LiveUpdate | None:
    """Feed a video file to `session` as a camera would, frame by frame with its own timestamps: in real
    time (`realtime`: each frame is pushed when its time comes, and a frame whose successor is already due
    is skipped, as a camera's stale frame is), or as fast as processing allows. `on_update(update, due)`
    sees every update with the monotonic time its frame was due; returns the last update."""
    from ..pose.video import read_ahead, read_frames

    started = time.monotonic()
    update, previous_time = None, None
    for frame in read_ahead(read_frames(path, None)):
        due = started + frame.time
        if realtime:
            step = frame.time - previous_time if previous_time is not None else 0.0
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


__all__ = ["SET_REST_S", "LiveSession", "LiveUpdate", "open_camera", "play_camera", "play_video"]
