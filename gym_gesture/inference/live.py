"""Live coaching: frames from a camera in, the exercise, the rep count and a form cue out, as they happen.

`LiveSession.push(frame_rgb, timestamp_s)` is the one live path of the CLI (`gym-gesture live`) and the
app's live tab (frames come from `sources`: a camera, or a video file played as one). It runs `predict`'s
chain on the session's pose sequence as it grows:

- the pose backend runs on one frame per slot of the model's `sample_fps` (10 fps for the shipped model,
  as `predict` resamples a clip); the frames in between get the last pose drawn over them, nothing more;
- windows are cut where `predict` cuts them (every `window_stride` frames from the first frame with a
  person, plus one ending on the newest frame, which the next one replaces), each classified once;
- the timeline is `segments.segments_from_windows` over all of them, kept up to date window by window
  (`segments.SegmentTracker`), and the set going on now (`sets.SetTracker`: sets end after a rest) is
  described by `verdict.describe_segments`: the same abstain decision, rep counter and form model as
  `predict`. A change of exercise starts a new segment, so its count starts at 0.

So a processed frame costs the same an hour into a session as in its first minute: it classifies one
window, updates the timeline's last segments and describes the set going on (its own frames only, its last
minute in a set longer than that).

A frame that arrives while another is being processed is not queued: `push` hands back the latest update
at once, drawn on the new frame, so the lag never grows. `summary()` gives the sets so far in the
workout-summary form (`summary.workout_sets`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass

import numpy as np

from ..analysis.abstain import not_sure_reason, span_sample
from ..analysis.form import GOOD
from ..analysis.growing import GrowingArray
from ..analysis.prediction import SCHEMA_VERSION, Segment
from ..analysis.segments import ClassifiedWindow, RawSegment, SegmentTracker
from ..analysis.sets import SET_REST_S, SetTracker, bridge_pauses, bridged_last
from ..analysis.summary import WorkoutSet, summary_json, workout_sets
from ..analysis.verdict import describe_segments
from ..data.windows import windows_from_sequence
from ..model.transforms import fill_gaps
from ..pose import create_backend
from ..pose.base import PoseBackend, PoseFrame
from ..pose.sequence import PoseSequence
from ..render.overlay import draw_people

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


class LiveSession:
    """One person training in front of one camera, recognized live with `recognizer`'s model.

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
        self._owns_backend = backend is None
        self.backend = create_backend(recognizer.backend.name) if backend is None else backend
        self.backend.set_frame_rate(self.fps)
        self.backend.reset()
        self.layout = self.backend.layout
        self._lock = threading.Lock()
        self._keypoints = None  # GrowingArray (frames, J, C): model coordinates, NaN where nobody
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the camera's frames
        self._detected = GrowingArray((), bool, False)
        self._first_time: float | None = None
        self._last_pose: PoseFrame | None = None
        self._anchor: int | None = None  # the first frame with a person: windows are cut from there
        self._timeline = SegmentTracker(recognizer.labels, min_probability=recognizer.thresholds.min_probability)
        self._last_on_grid: ClassifiedWindow | None = None  # the latest of predict's windows
        self._newest: ClassifiedWindow | None = None  # the window ending on the newest frame, when off the grid
        self._sets = SetTracker(set_rest_s)
        self.frames_received = 0
        self.frames_processed = 0
        self._closed = False
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
                # Another caller may have taken the slot meanwhile; a closed session has no pose backend.
                if slot >= self._detected.size and not self._closed:
                    self._process(frame_rgb, slot)
                    return self._update(frame_rgb, timestamp_s, processed=True)
            finally:
                self._lock.release()
        return self._update(frame_rgb, timestamp_s, processed=False)

    def _update(self, frame_rgb: np.ndarray, timestamp_s: float, processed: bool) -> LiveUpdate:
        label, probability, abstain, reps, form = self._state
        pose = self._last_pose
        # From a multi-person backend, the person the session follows now in color, everyone else in grey.
        overlay = frame_rgb if pose is None else draw_people(frame_rgb, pose.people_in_view(), self.layout)
        return LiveUpdate(label, probability, abstain, reps, form, overlay, timestamp_s, processed)

    def _process(self, frame_rgb: np.ndarray, slot: int) -> None:
        pose = self.backend(frame_rgb)
        self.frames_processed += 1
        height, width = frame_rgb.shape[:2]
        self._frame_size = (width, height)
        coordinates = PoseSequence(pose.keypoints[None], pose.image_points[None], pose.scores[None],
                                   np.array([pose.detected]), self.fps, width, height, self.layout,
                                   self.backend.name).model_coordinates(self.config.num_channels)
        if self._keypoints is None:
            self._keypoints = GrowingArray(coordinates.shape[1:], np.float32, np.nan)
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
        both have a person and the gap is short (`transforms.fill_gaps`, as windows fill theirs), else
        frames with nobody."""
        if missing <= 0:
            return
        gap = np.full((missing, *keypoints.shape), np.nan, np.float32)
        interpolated = (self._keypoints.size > 0 and detected and bool(self._detected.view[-1])
                        and missing <= MAX_INTERPOLATED_GAP_S * self.fps)
        if interpolated:
            gap = fill_gaps(np.concatenate([self._keypoints.view[-1:], gap, keypoints[None]]), missing)[1:-1]
        self._keypoints.extend(gap)
        self._detected.extend(np.full(missing, interpolated))

    # -- windows and the timeline ------------------------------------------------------------------------

    def _window_ending_at(self, end: int) -> ClassifiedWindow | None:
        """The model's window of the frames up to `end` (exclusive), as `predict` cuts it: the last
        `num_frames` frames, or all frames since the first person when fewer; None when the person is
        missing in too many of them."""
        start = max(self._anchor, end - self.config.num_frames)
        windows = windows_from_sequence(self._keypoints.view[start:end], self.layout, self.fps, self.config,
                                        stride=self.config.num_frames, frame_size=self._frame_size)
        if len(windows) == 0:
            return None
        probabilities = _one_thread(self.recognizer.window_probabilities, windows.keypoints[-1:],
                                    windows.attention_mask[-1:])
        span = windows.spans[-1] + start / self.fps
        return ClassifiedWindow(float(span[0]), float(span[1]), probabilities[0])

    def _cut_windows(self, first_new: int) -> None:
        """Classify the windows of `predict`'s grid that end on the new frames, and the one ending on the
        newest; the timeline takes them in."""
        self._newest = None
        if self._anchor is not None:
            length, stride = self.config.num_frames, self.config.window_stride
            for end in range(max(first_new + 1, self._anchor + length), self._detected.size + 1):
                if (end - self._anchor - length) % stride == 0:
                    window = self._window_ending_at(end)
                    if window is not None:
                        self._timeline.add(window)
                        self._last_on_grid = window
            if self._last_on_grid is None or self._last_on_grid.end * self.fps < self._detected.size - 0.5:
                self._newest = self._window_ending_at(self._detected.size)
        self._timeline.set_newest(self._newest)

    def _describe(self, segments: list[RawSegment]) -> list[Segment]:
        return describe_segments(segments, self._keypoints.view, self.layout, self.fps, self._detected.view,
                                 form_model=self.recognizer.form_model, thresholds=self.recognizer.thresholds,
                                 frame_size=self._frame_size)

    def _current_state(self):
        """(label, probability, abstain, reps, form) of the set going on now."""
        latest = self._newest or self._last_on_grid
        now = self._detected.size / self.fps
        if latest is None or latest.end < now - 0.5 / self.fps:
            return None, None, NO_PERSON_REASON, 0, None
        segment = bridged_last(self._timeline.newest_first())
        if segment is None or segment.end < latest.end:  # the newest windows name no exercise
            top = self._timeline.latest_probabilities()
            label, probability = self.recognizer.labels[int(top.argmax())], float(top.max())
            reason = span_sample(self._keypoints.view, self.layout, self.fps, self._detected.view, latest.start,
                                 latest.end, label, probability, frame_size=self._frame_size
                                 ).reason(self.recognizer.thresholds)
            return label, probability, reason or not_sure_reason(probability, self.recognizer.thresholds), 0, None
        current = self._sets.follow(segment, now, lambda piece: self._describe([piece])[0])
        return current.exercise, current.probability, current.abstain, current.reps, _form_cue(current)

    # -- the session so far ------------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        """The timeline of the session so far, in `predict`'s `segments` form (times in seconds from the
        first frame), each set its own segment; the rest after a set (no rep since it ended) is left out."""
        with self._lock:
            if self._keypoints is None:
                return []
            return self._sets.sets(bridge_pauses(self._timeline.segments()), self._describe)

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
        """Closes the pose backend once the frame it may be processing is done (the app's End session comes
        while frames still arrive); later frames get the last update."""
        with self._lock:
            self._closed = True
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


__all__ = ["LiveSession", "LiveUpdate"]
