"""Which of the people in view is exercising: the one whose body goes back and forth through a movement.

An exercise is motion of the joints relative to the body (hips held still, in torso lengths) that comes
back to where it was, again and again; someone standing by barely moves, and someone walking past is in
view too briefly to repeat much. Each person's motion over a few seconds is scored (`periodic_motion`):
how far the joints move (their spread, in torso lengths), times how well the motion repeats (the
autocorrelation's return after its dip), times the share of the span the person was seen. Size and place
in the frame only break ties. The choice holds: another person takes over only with a clearly larger score
kept for `TAKEOVER_S`, as when two people take turns, or when the followed one has left.

Two forms of the same choice: `ExerciserChoice`, frame by frame from the seconds before (live), and
`choose_exerciser`, over a whole clip with the seconds around each frame (a video file).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..model.skeleton import convert, get_layout
from .tracking import PeopleTracks, gap_frames, person_box, same_place

# The span (s) whose motion is scored: two slow reps (2-3 s each), or more.
WINDOW_S = 6.0
# Under this score (torso lengths) nobody is exercising: a still person's jitter, MediaPipe's wobble.
STILL_SCORE = 0.05
# Scores this close (a share of the best) are a tie, which size and place in the frame break.
TIE = 0.2
# Another person takes over with a score this many times the followed one's, for this long.
TAKEOVER_RATIO = 2.0
TAKEOVER_S = 2.0
# A clip's scores are taken every half second; a frame has the score of the step it falls in.
SCORE_STEP_S = 0.5

_CANONICAL = get_layout("h36m17").index


def _body_motion(image_points: np.ndarray, layout: str) -> np.ndarray:
    """(n, 17 * 2): each frame's joints relative to its hip center, in that frame's torso lengths (no less
    than half the span's median: a torso bent towards the camera looks short); NaN rows where the person
    was not seen. Per frame, so that someone walking towards the camera does not seem to stretch."""
    joints = convert(image_points, layout)
    hips = (joints[:, _CANONICAL["left_hip"]] + joints[:, _CANONICAL["right_hip"]]) / 2
    shoulders = (joints[:, _CANONICAL["left_shoulder"]] + joints[:, _CANONICAL["right_shoulder"]]) / 2
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    if not np.isfinite(torso).any():
        return np.full((len(joints), joints.shape[1] * 2), np.nan)
    torso = np.maximum(torso, np.nanmedian(torso) / 2)
    return ((joints - hips[:, None]) / torso[:, None, None]).reshape(len(joints), -1)


def _repeats(motion: np.ndarray, min_lag: int) -> float:
    """How well (n, D) gap-free motion repeats: the autocorrelation's largest rise after its lowest point so
    far, over lags from `min_lag` to half the span, halved: 1 for a perfect cycle, 0 for a drift one way."""
    centered = motion - motion.mean(axis=0)
    energy = float((centered ** 2).sum())
    if energy <= 0:
        return 0.0
    rise, lowest = 0.0, 1.0
    for lag in range(1, len(centered) // 2 + 1):
        correlation = float((centered[:-lag] * centered[lag:]).sum()) / energy * len(centered) / (len(centered) - lag)
        lowest = min(lowest, correlation)
        if lag >= min_lag:
            rise = max(rise, correlation - lowest)
    return min(rise / 2, 1.0)


def periodic_motion(image_points: np.ndarray, layout: str, fps: float) -> float:
    """The exercise score of one person over a span: (n, J, 2) image points in `layout` (NaN where not seen),
    n frames at `fps`. The joints' spread about their mean (torso lengths), times how well the motion repeats
    (`_repeats`), times the share of the span the person was seen; 0 for under a second seen."""
    motion = _body_motion(np.asarray(image_points, np.float32), layout)
    seen = np.isfinite(motion).all(axis=1)
    if seen.sum() < fps:
        return 0.0
    first, last = np.flatnonzero(seen)[[0, -1]]
    frames = np.arange(first, last + 1)
    # Short gaps (a frame or two without the person) bridged by a straight line.
    motion = np.stack([np.interp(frames, np.flatnonzero(seen), column[seen]) for column in motion.T], axis=1)
    spread = float(np.sqrt(((motion - motion.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return spread * _repeats(motion, min_lag=max(1, round(0.4 * fps))) * float(seen.mean())


def prominence(box: np.ndarray, frame_size: tuple[int, int]) -> float:
    """For ties: the person's height as a share of the frame's, less the more off-center they stand."""
    width, height = frame_size
    off_center = abs((box[0] + box[2]) / 2 / width - 0.5)
    return float((box[3] - box[1]) / height * (1.0 - off_center))


def _clearly_more(score: float, than: float) -> bool:
    return score > TAKEOVER_RATIO * than + STILL_SCORE


def _first_choice(candidates: dict[int, tuple[float, float]]) -> int:
    """The best scored of `candidates` (track -> (score, prominence)); among those within `TIE` of the best
    (or all, when nobody is exercising), the most prominent."""
    best = max(score for score, _ in candidates.values())
    tied = {track: value for track, value in candidates.items()
            if value[0] >= best * (1 - TIE) or best < STILL_SCORE}
    return max(tied, key=lambda track: tied[track][1])


@dataclass
class _Follower:
    """The choice's memory: who is followed, and who has been challenging them since when."""

    takeover_frames: int
    followed: int | None = None
    challenger: int | None = None
    challenged_since: int = 0

    def step(self, frame: int, candidates: dict[int, tuple[float, float]],
             alive: set[int]) -> tuple[int | None, int]:
        """The track to follow at `frame` and the frame the choice holds from (earlier than `frame` when a
        takeover has just been confirmed), given the people seen now (`candidates`, track -> (score,
        prominence)) and the tracks not ended (`alive`)."""
        if self.followed not in alive:
            self.followed = None
        if self.followed is None:
            if not candidates:
                return None, frame
            self.followed = _first_choice(candidates)
            # One who was taking over already when the followed person left: followed since they began.
            since = self.challenged_since if self.followed == self.challenger else frame
            self.challenger = None
            return self.followed, since
        own = candidates.get(self.followed, (0.0, 0.0))[0]
        others = {track: value for track, value in candidates.items() if track != self.followed}
        challenger = max(others, key=lambda track: others[track][0], default=None)
        if challenger is None or not _clearly_more(others[challenger][0], own):
            self.challenger = None
            return self.followed, frame
        if challenger != self.challenger:
            self.challenger, self.challenged_since = challenger, frame
        if frame - self.challenged_since + 1 >= self.takeover_frames:
            self.followed, self.challenger = challenger, None
            return self.followed, self.challenged_since
        return self.followed, frame


class ExerciserChoice:
    """The person to follow, frame by frame, from each person's last `WINDOW_S` seconds (live coaching).

    `update(people, frame_size)` takes one frame's people (track id -> pose with `image_points`) and the
    frame's (width, height), and returns the followed track's id (None while nobody is in view)."""

    def __init__(self, fps: float, layout: str = "mediapipe33"):
        self.fps, self.layout = fps, layout
        self._window = max(2, round(WINDOW_S * fps))
        self._score_every = max(1, round(SCORE_STEP_S * fps))
        self._max_gap = gap_frames(fps)
        self.reset()

    def reset(self) -> None:
        self._frame = -1
        self._history: dict[int, deque] = {}
        self._first_seen: dict[int, int] = {}
        self._last_seen: dict[int, int] = {}
        self._scores: dict[int, float] = {}
        self._follower = _Follower(max(1, round(TAKEOVER_S * self.fps)))

    def update(self, people: dict, frame_size: tuple[int, int]) -> int | None:
        self._frame += 1
        self._continue_followed(people)
        for track, pose in people.items():
            self._first_seen.setdefault(track, self._frame)
            history = self._history.setdefault(track, deque(maxlen=self._window))
            # Frames the person was not seen in, as NaN rows, so the span's coverage counts them.
            for _ in range(self._frame - self._last_seen.get(track, self._frame - 1) - 1):
                history.append(np.full_like(pose.image_points, np.nan))
            history.append(pose.image_points)
            self._last_seen[track] = self._frame
        for track in [track for track, seen in self._last_seen.items() if self._frame - seen > self._max_gap]:
            del self._history[track], self._last_seen[track], self._first_seen[track]
            self._scores.pop(track, None)
        # Scores only matter with someone to choose from (never with one person in view), and are taken
        # every `SCORE_STEP_S`, as over a clip.
        # Someone in view for part of the window scores for that part, as in a clip's window around a frame.
        if len(self._last_seen) > 1 and self._frame % self._score_every == 0:
            self._scores = {track: periodic_motion(np.stack(history), self.layout, self.fps) * len(history)
                            / self._window for track, history in self._history.items()}
        candidates = {track: (self._scores.get(track, 0.0), prominence(person_box(pose.image_points), frame_size))
                      for track, pose in people.items()}
        return self._follower.step(self._frame, candidates, set(self._last_seen))[0]

    def _continue_followed(self, people: dict) -> None:
        """Where the followed person is unseen now and exactly one track begun since they were last seen
        stands where they were (`tracking.same_place`), follow that track from now on: the tracker cut them
        in two, and waiting for the old track to end would leave nobody followed for up to a second."""
        followed = self._follower.followed
        if followed is None or followed in people or followed not in self._last_seen:
            return
        last = self._history[followed][-1]
        heirs = [track for track, pose in people.items()
                 if self._first_seen.get(track, self._frame) > self._last_seen[followed]
                 and same_place(last, pose.image_points)]
        if len(heirs) == 1:
            self._follower.followed = heirs[0]


def _scores(tracks: PeopleTracks, track: int, layout: str, fps: float) -> np.ndarray:
    """(n,) the track's score at each of its frames, over the `WINDOW_S` seconds of the clip around it."""
    half, step = round(WINDOW_S * fps / 2), max(1, round(SCORE_STEP_S * fps))
    start, points = tracks.start[track], tracks.image_points[track]
    scores = np.zeros(len(points))
    for row in range(0, len(points), step):
        # The window in clip frames, cut by the clip's ends; the track is absent outside its own frames.
        first, last = max(0, start + row - half), min(tracks.num_frames, start + row + half + 1)
        window = np.full((last - first,) + points.shape[1:], np.nan, np.float32)
        inside = slice(max(first, start) - first, min(last, tracks.end(track)) - first)
        window[inside] = points[max(first, start) - start:min(last, tracks.end(track)) - start]
        scores[row:row + step] = periodic_motion(window, layout, fps)
    return scores


def choose_exerciser(tracks: PeopleTracks, layout: str, fps: float, frame_size: tuple[int, int]) -> np.ndarray:
    """(T,) the track followed at each frame of a clip (-1: nobody), from everyone's tracks: the same choice
    as `ExerciserChoice` with the seconds around each frame, a takeover dated from when it began."""
    scores = {track: _scores(tracks, track, layout, fps) for track in tracks.ids}
    follower = _Follower(max(1, round(TAKEOVER_S * fps)))
    followed = np.full(tracks.num_frames, -1)
    for frame in range(tracks.num_frames):
        alive, candidates = set(), {}
        for track in tracks.ids:
            row = frame - tracks.start[track]
            if 0 <= row < len(scores[track]):
                alive.add(track)
                if np.isfinite(tracks.image_points[track][row]).all():
                    box = person_box(tracks.image_points[track][row])
                    candidates[track] = (scores[track][row], prominence(box, frame_size))
        chosen, since = follower.step(frame, candidates, alive)
        followed[since:frame + 1] = -1 if chosen is None else chosen
    return followed
