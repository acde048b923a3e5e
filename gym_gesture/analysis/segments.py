"""From per-window predictions to a timeline of exercise segments.

The classifier sees one window (a couple of seconds) at a time; a workout is a sequence of windows.
`segments_from_windows` averages each window's class probabilities with its neighbors', takes the most
probable class per window (or none, when it is below `min_probability`), merges runs of the same class
into segments and folds segments shorter than `min_duration_s` into a neighbor, so a one-window flicker
never becomes an exercise of its own. Everything here works on plain arrays: the pose sequence and the
model stay in the inference path.

`SegmentTracker` gives the same segments as windows arrive one by one (live coaching), each update doing
the work of the windows that changed rather than of the whole session.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .growing import GrowingArray


@dataclass
class RawSegment:
    """One exercise from `start` to `end` (s), with the mean top probability of its `windows`, as cut
    from the windows: `verdict.describe_segments` makes it a `prediction.Segment`."""

    exercise: str
    start: float
    end: float
    probability: float
    windows: int


@dataclass
class ClassifiedWindow:
    """One window from `start` to `end` (s) and the model's class probabilities (C,) for it."""

    start: float
    end: float
    probabilities: np.ndarray


def smooth_probabilities(probabilities: np.ndarray, neighbours: int = 1) -> np.ndarray:
    """Mean of each window's probabilities (N, C) with `neighbours` windows either side (fewer at the ends)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (windows, classes), got shape {probabilities.shape}")
    padded = np.concatenate([np.zeros((1, probabilities.shape[1])), np.cumsum(probabilities, axis=0)])
    return _smoothed(padded, 0, len(probabilities), len(probabilities), neighbours)


def _smoothed(sums: np.ndarray, first: int, last: int, count: int, neighbours: int, offset: int = 0) -> np.ndarray:
    """The smoothed probabilities of windows [first, last) of `count`, from running sums (`sums[k - offset]`:
    the sum of the first k windows' probabilities, added in order)."""
    index = np.arange(first, last)
    low, high = np.maximum(index - neighbours, 0), np.minimum(index + neighbours + 1, count)
    return (sums[high - offset] - sums[low - offset]) / (high - low)[:, None]


def segments_from_windows(starts: np.ndarray, ends: np.ndarray, probabilities: np.ndarray,
                          labels: list[str] | tuple[str, ...], *, neighbours: int = 1,
                          min_probability: float = 0.0, min_duration_s: float = 2.0) -> list[RawSegment]:
    """Segments (exercise, start, end) from windows [starts, ends) (s) and their probabilities (N, C).

    Windows whose smoothed top probability is below `min_probability` belong to no exercise; such
    stretches are gaps between segments, not segments. Boundaries between consecutive windows fall
    halfway between their centers, so overlapping windows give segments that do not overlap.
    """
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not (len(starts) == len(ends) == len(probabilities)):
        raise ValueError(f"{len(starts)} starts, {len(ends)} ends and {len(probabilities)} probability rows differ")
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise ValueError(f"probabilities must be (windows, {len(labels)} classes), got {probabilities.shape}")
    if len(starts) == 0:
        return []
    order = np.argsort(starts, kind="stable")
    starts, ends, probabilities = starts[order], ends[order], probabilities[order]
    smoothed = smooth_probabilities(probabilities, neighbours)
    top_probability = smoothed.max(1)
    classes = _classes(smoothed, top_probability, min_probability)

    centers = (starts + ends) / 2
    edges = np.concatenate([[starts[0]], (centers[1:] + centers[:-1]) / 2, [ends[-1]]])
    runs = _fold_short_runs(_runs(classes), edges, min_duration_s)
    return _segments(runs, edges, lambda first, last: top_probability[first:last], labels)


def _classes(smoothed: np.ndarray, top_probability: np.ndarray, min_probability: float) -> np.ndarray:
    """Each window's most probable class, -1 where its probability is under `min_probability`."""
    return np.where(top_probability >= min_probability, smoothed.argmax(1), -1)


def _runs(classes, runs: list[list[int]] | None = None, first: int = 0) -> list[list[int]]:
    """Runs of one class, [class, first window, last window + 1], of windows `first`, `first` + 1, ...
    (continuing `runs` when given: its last run grows when the class goes on)."""
    runs = [] if runs is None else runs
    for index, cls in enumerate(classes.tolist() if isinstance(classes, np.ndarray) else classes, first):
        if runs and runs[-1][0] == cls:
            runs[-1][2] = index + 1
        else:
            runs.append([cls, index, index + 1])
    return runs


def _fold_short_runs(runs: list[list[int]], edges, min_duration_s: float,
                     keep: tuple[int, ...] = ()) -> list[list[int]] | None:
    """Give the shortest run under `min_duration_s` to its longer neighbor, until none is left (or one run).
    `edges[i]`: where window i begins (s), as segments cut them. None when that would fold a run holding
    one of the windows `keep`."""
    while len(runs) > 1:
        durations = [edges[b] - edges[a] for _, a, b in runs]
        shortest = int(np.argmin(durations))
        if durations[shortest] >= min_duration_s:
            break
        if any(runs[shortest][1] <= window < runs[shortest][2] for window in keep):
            return None
        neighbours = [i for i in (shortest - 1, shortest + 1) if 0 <= i < len(runs)]
        target = max(neighbours, key=lambda i: durations[i])
        runs[shortest][0] = runs[target][0]
        merged: list[list[int]] = []
        for run in runs:
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(list(run))
        runs = merged
    return runs


def _segments(runs: list[list[int]], edges, top_probability, labels) -> list[RawSegment]:
    """The segments of folded runs (runs of no class are gaps); `top_probability(first, last)`: the
    windows' smoothed top probabilities, one contiguous array."""
    return [RawSegment(labels[cls], float(edges[a]), float(edges[b]), float(top_probability(a, b).mean()), b - a)
            for cls, a, b in runs if cls >= 0]


def span_frames(keypoints: np.ndarray, detected: np.ndarray, fps: float, start: float, end: float):
    """The first frame, the keypoints and the detected flags of the frames from `start` to `end` (s)."""
    first, last = max(int(round(start * fps)), 0), min(int(round(end * fps)), len(keypoints))
    return first, keypoints[first:last], np.asarray(detected[first:last], dtype=bool)


@dataclass
class _Barrier:
    """Two adjacent runs that are both at least `min_duration_s` long, and that folding the runs on either
    side of them on their own never folds (`_fold_apart`): then folding all runs folds each side as on its
    own, since a short run next to one of them compares its neighbors' lengths on its own side only.
    `window` and `run`: where the second one begins; `end`: where it ended when found; `frozen`: how many
    segments lie before it."""

    window: int
    run: int
    end: int
    frozen: int


def _fold_apart(runs: list[list[int]], edges, min_duration_s: float, keep: tuple[int, ...]) -> list[list[int]] | None:
    """`_fold_short_runs` of the runs between barriers, or None when it folds a barrier's run (one holding a
    window of `keep`), or leaves a run under `min_duration_s` that folding all runs would then fold. (Runs
    only grow when windows do not go back in time; a late window, inserted before others, can end before
    the one it follows and make a run shrink as it grows.)"""
    runs = _fold_short_runs(runs, edges, min_duration_s, keep)
    if runs is None or any(edges[b] - edges[a] < min_duration_s for _, a, b in runs):
        return None
    return runs


class SegmentTracker:
    """`segments_from_windows` of windows that arrive one by one (a live session), kept up to date step by
    step: the same segments, down to the last bit, for a fraction of the work.

        tracker = SegmentTracker(labels, min_probability=0.5)
        tracker.add(ClassifiedWindow(start, end, probabilities))   # a window for good
        tracker.set_newest(window)   # one that the next update replaces (None: none)
        tracker.newest_first()       # the last segment (what is going on now), then those before it

    A window's smoothed probabilities depend on its `neighbours` windows either side only: summed in order
    as they come (as `smooth_probabilities` sums them), they are final once `neighbours` windows follow, and
    its class with them; runs of one class grow from the final windows. Folding short runs looks at all
    runs, but only as far back as the last two adjacent runs that are both long (`_Barrier`): each update
    folds the runs after those, and keeps the segments before them. Windows are kept in the order of their
    starts, a late one inserted where `segments_from_windows`' stable sort would put it.
    """

    def __init__(self, labels: list[str] | tuple[str, ...], *, neighbours: int = 1, min_probability: float = 0.0,
                 min_duration_s: float = 2.0):
        self.labels = list(labels)
        self.neighbours, self.min_probability, self.min_duration_s = neighbours, min_probability, min_duration_s
        classes = len(self.labels)
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._rows = GrowingArray((classes,), np.float64, 0.0)  # the windows' probabilities, by start
        self._sums = GrowingArray((classes,), np.float64, 0.0)  # _sums[k]: the first k rows summed in order
        self._sums.extend(np.zeros((1, classes)))
        self._arrival_sums = GrowingArray((classes,), np.float64, 0.0)  # the same, in the order they came
        self._arrival_sums.extend(np.zeros((1, classes)))
        self._top = GrowingArray((), np.float64, np.nan)  # smoothed top probability of the final windows
        self._classes: list[int] = []  # their classes (-1: under min_probability)
        self._runs: list[list[int]] = []  # runs of one class over the final windows
        self._barriers = [_Barrier(0, 0, 0, 0)]
        self._frozen: list[RawSegment] = []  # the segments before the last barrier
        self._newest: ClassifiedWindow | None = None

    # -- windows in ---------------------------------------------------------------------------------------

    def add(self, window: ClassifiedWindow) -> None:
        """A window for good (it also replaces the newest one, if any)."""
        self._newest = None
        row = np.asarray(window.probabilities, dtype=np.float64)[None]
        self._arrival_sums.extend(self._arrival_sums.view[-1:] + row)
        at = bisect_right(self._starts, window.start)
        later = self._rows.view[at:].copy()
        if at < len(self._starts):  # out of order: what the later windows decided is decided again
            self._truncate(max(min(len(self._classes), at - self.neighbours), 0))
        self._starts.insert(at, window.start)
        self._ends.insert(at, window.end)
        self._rows.truncate(at)
        self._rows.extend(np.concatenate([row, later]))
        self._sums.truncate(at + 1)
        self._sums.extend(np.cumsum(np.concatenate([self._sums.view[-1:], self._rows.view[at:]]), axis=0)[1:])
        self._finalise()

    def set_newest(self, window: ClassifiedWindow | None) -> None:
        """The window ending on the newest frame, until the next one replaces it (None: none now)."""
        self._newest = window

    def _truncate(self, final: int) -> None:
        """Forget what was decided from window `final` on."""
        self._top.truncate(final)
        del self._classes[final:]
        self._runs = [run for run in self._runs if run[1] < final]
        if self._runs:
            self._runs[-1][2] = min(self._runs[-1][2], final)
        while self._barriers[-1].end > final:
            self._barriers.pop()
        del self._frozen[self._barriers[-1].frozen:]

    def _finalise(self) -> None:
        """Decide the windows that have their `neighbours` followers, and the runs and barriers they make."""
        first, last = len(self._classes), len(self._starts) - self.neighbours
        if last <= first:
            return
        smoothed = _smoothed(self._sums.view, first, last, len(self._starts), self.neighbours)
        top_probability = smoothed.max(1)
        self._top.extend(top_probability)
        classes = _classes(smoothed, top_probability, self.min_probability).tolist()
        self._classes.extend(classes)
        for index, cls in enumerate(classes, first):
            runs_before = len(self._runs)
            _runs([cls], self._runs, index)
            if len(self._runs) > runs_before:
                self._find_barrier()

    def _find_barrier(self) -> None:
        """A new run began: the two runs before it are a barrier if both are long and the runs since the
        last barrier fold on their own without folding either (their segments are then kept)."""
        if len(self._runs) < 3 or len(self._runs) - 2 <= self._barriers[-1].run:
            return
        edge = _Edges(self._starts, self._ends, len(self._starts), None, None)
        (_, a, b), (_, c, d) = self._runs[-3], self._runs[-2]
        if edge[b] - edge[a] < self.min_duration_s or edge[d] - edge[c] < self.min_duration_s:
            return
        last = self._barriers[-1]
        keep = (b - 1,) if last.run == 0 else (last.window, b - 1)
        runs = _fold_apart([list(run) for run in self._runs[last.run:-2]], edge, self.min_duration_s, keep)
        if runs is None:
            return
        self._frozen.extend(_segments(runs, edge, lambda first, end: self._top.view[first:end], self.labels))
        self._barriers.append(_Barrier(c, len(self._runs) - 2, d, len(self._frozen)))

    # -- segments out ---------------------------------------------------------------------------------------

    def segments(self) -> list[RawSegment]:
        """`segments_from_windows` of the windows so far (the newest included)."""
        frozen, recent = self._view()
        return self._frozen[:frozen] + recent

    def newest_first(self) -> Iterator[RawSegment]:
        """The segments from the last one (the one going on) back, read only as far as the caller goes."""
        frozen, recent = self._view()
        yield from reversed(recent)
        for index in range(frozen - 1, -1, -1):
            yield self._frozen[index]

    def latest_probabilities(self) -> np.ndarray | None:
        """The smoothed probabilities of the window that came last, its neighbors taken in the order the
        windows came, as `smooth_probabilities` of the windows in that order gives it; None before any."""
        sums = self._arrival_sums.view
        count, last = len(sums) - 1, sums[-1]
        if self._newest is not None:
            count, last = count + 1, last + np.asarray(self._newest.probabilities, dtype=np.float64)
        if count == 0:
            return None
        low = max(count - 1 - self.neighbours, 0)
        return (last - sums[low]) / (count - low)  # `_smoothed` of the last window

    def _view(self) -> tuple[int, list[RawSegment]]:
        """How many frozen segments come first, and the segments after them: the runs since the last
        barrier that still holds, with the windows not final yet (the newest among them) decided for now."""
        count = len(self._starts)
        at = count if self._newest is None else bisect_right(self._starts, self._newest.start)
        total = count + (self._newest is not None)
        if total == 0:
            return 0, []
        final = len(self._classes) if at == count else max(min(len(self._classes), at - self.neighbours), 0)
        offset = max(final - self.neighbours, 0)
        sums = self._sums.view[offset:]
        if self._newest is not None:
            newest = np.asarray(self._newest.probabilities, dtype=np.float64)[None]
            sums = np.concatenate([sums[:at + 1 - offset], np.cumsum(
                np.concatenate([sums[at - offset:at + 1 - offset], newest, self._rows.view[at:]]), axis=0)[1:]])
        smoothed = _smoothed(sums, final, total, total, self.neighbours, offset)
        pending_top = smoothed.max(1)
        pending_classes = _classes(smoothed, pending_top, self.min_probability)
        edge = _Edges(self._starts, self._ends, total, at, self._newest)

        def top_probability(first: int, end: int) -> np.ndarray:
            if end <= final:
                return self._top.view[first:end]
            return np.concatenate([self._top.view[first:final], pending_top[max(first - final, 0):end - final]])

        index = len(self._barriers) - 1
        while True:
            barrier = self._barriers[index]
            index -= 1
            if barrier.end > final:  # the newest window came before what decided it
                continue
            runs = [list(run) for run in self._runs[barrier.run:] if run[1] < final]
            if runs:
                runs[-1][2] = min(runs[-1][2], final)
            runs = _runs(pending_classes, runs, final)
            if barrier.run == 0:  # the first "barrier", before all windows, always holds
                runs = _fold_short_runs(runs, edge, self.min_duration_s)
            else:
                runs = _fold_apart(runs, edge, self.min_duration_s, (barrier.window,))
            if runs is not None:
                return barrier.frozen, _segments(runs, edge, top_probability, self.labels)
            if barrier is self._barriers[-1]:  # a late window made the barrier's run shrink: it no longer holds
                self._barriers.pop()
                del self._frozen[self._barriers[-1].frozen:]


class _Edges:
    """`edges[i]` of `segments_from_windows` (where window i begins as segments cut them), computed where
    asked only: the windows added, with `newest` at index `at` when given."""

    def __init__(self, starts: list[float], ends: list[float], total: int, at: int | None,
                 newest: ClassifiedWindow | None):
        self.starts, self.ends, self.total, self.at, self.newest = starts, ends, total, at, newest

    def _window(self, index: int) -> tuple[float, float]:
        if self.newest is not None and index >= self.at:
            if index == self.at:
                return self.newest.start, self.newest.end
            index -= 1
        return self.starts[index], self.ends[index]

    def __getitem__(self, index: int) -> float:
        if index == 0:
            return self._window(0)[0]
        if index == self.total:
            return self._window(index - 1)[1]
        (start_before, end_before), (start, end) = self._window(index - 1), self._window(index)
        return ((start + end) / 2 + (start_before + end_before) / 2) / 2
