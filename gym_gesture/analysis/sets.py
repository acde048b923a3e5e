"""Sets and the rests between them, decided step by step as the reps come (or not): one segmentation for
a live session and a clip given whole to `predict`.

A set ends when `SET_REST_S` pass without a rep (a pause of up to `PAUSE_S` that the model is sure of no
exercise in is bridged, `bridge_pauses`), and the next one starts at most `SET_REST_S` before its first rep:
the rest between (or the getting ready before the first set) is no set, and its frames never widen the range
the rep counter's thresholds sit in (a long still stretch would hide the next reps from it). Live mode steps
a `SetTracker` after every processed frame; `predict` replays the same steps over the clip's timeline
(`clip_sets`), frame by frame as a live session of the clip would take them, so both give the same sets.

The set going on is described after every processed frame; one longer than `RECENT_S` is described on its
last `RECENT_S` only (its abstain decision and form cue read them), its earlier reps kept as counted, so
that a frame costs no more ten minutes into a set than one minute into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import chain

from .prediction import Segment
from .reps import REP_SIGNALS
from .segments import RawSegment

# Longer than the slowest rep `reps.count_cycles` counts (8 s), so a slow rep never splits a set.
SET_REST_S = 10.0
# A pause inside a set that the model is sure of no exercise in (standing between two reps) is bridged up
# to this long; an unsure stretch longer than that is no longer surely the same set (`bridge_pauses`).
PAUSE_S = 5.0
# A set ended by rest is cut this long after its last rep: the way back to rest stays in it.
SET_END_AFTER_REP_S = 1.0
# A set going on is described on its last minute at most (`SetTracker.recent`) ...
RECENT_S = 60.0
# ... and of the reps counted there, those this far in or later are taken: before them the counter has had two
# of its range windows (`reps.RANGE_WINDOW_S`) and its slowest rep (8 s) to settle as on the whole set.
SETTLE_S = 20.0
# While no rep comes, `clip_sets` looks this far ahead at once: short beside `SET_REST_S`, so the piece it
# counts is near the one live mode counts then, and its stillness never hides a rep that live mode counts.
AHEAD_S = 1.0


def _in_one_set(earlier: RawSegment, later: RawSegment, pause_s: float) -> bool:
    """Whether a pause inside a set is all that parts two consecutive segments."""
    return earlier.exercise == later.exercise and later.start - earlier.end <= pause_s


def bridge_pauses(segments: list[RawSegment], pause_s: float = PAUSE_S) -> list[RawSegment]:
    """The timeline (`segments_from_windows`) with the pauses inside sets bridged: two segments of one
    exercise with at most `pause_s` between them are one. Between them no window was sure of any exercise
    (standing a few seconds between two squats is none); the bridged segment's probability is the mean of
    its own windows', the pause's left out."""
    bridged: list[RawSegment] = []
    for segment in segments:
        if bridged and _in_one_set(bridged[-1], segment, pause_s):
            earlier, windows = bridged[-1], bridged[-1].windows + segment.windows
            probability = (earlier.probability * earlier.windows + segment.probability * segment.windows) / windows
            bridged[-1] = replace(earlier, end=segment.end, probability=probability, windows=windows)
        else:
            bridged.append(segment)
    return bridged


def bridged_last(newest_first: Iterable[RawSegment], pause_s: float = PAUSE_S) -> RawSegment | None:
    """`bridge_pauses(timeline)[-1]`, bit for bit, from the timeline read from its end
    (`SegmentTracker.newest_first`) only as far back as the pauses bridged go: what a live session does
    after each frame."""
    bridged: list[RawSegment] = []
    for segment in newest_first:
        if bridged and not _in_one_set(segment, bridged[-1], pause_s):
            break
        bridged.append(segment)
    return bridge_pauses(bridged[::-1], pause_s)[0] if bridged else None


class SetTracker:
    """Where sets ended (`set_ends`, s) and began after a rest or getting ready (`set_starts`, s) in one
    live session (or one clip, `clip_sets`), and the reps of the set going on: state kept from one processed
    frame to the next, as a gym counter keeps a count and a stage per person.

        going_on = sets.follow(segment, now, describe)   # after each processed frame: the set going on
        described = sets.sets(segments, describe_all)    # the timeline's sets, the rests left out
    """

    def __init__(self, rest_s: float = SET_REST_S):
        self.rest_s = rest_s
        self.set_ends: list[float] = []
        self.set_starts: list[float] = []
        self._rep_times: list[float] = []  # of the set going on, as counted so far

    def _cuts(self, segment: RawSegment):
        return (cut for cut in chain(self.set_ends, self.set_starts) if segment.start < cut < segment.end)

    def pieces(self, segment: RawSegment) -> list[RawSegment]:
        """A segment cut where sets ended and began."""
        bounds = [segment.start, *sorted(self._cuts(segment)), segment.end]
        return [replace(segment, start=start, end=end) for start, end in zip(bounds, bounds[1:])]

    def current(self, segment: RawSegment) -> RawSegment:
        """The last of `pieces(segment)`: the set or rest going on when `segment` is."""
        return replace(segment, start=max(self._cuts(segment), default=segment.start))

    def recent(self, piece: RawSegment) -> RawSegment:
        """What to describe of the set or rest going on (`current`): all of it, or its last `RECENT_S`."""
        return replace(piece, start=max(piece.start, piece.end - RECENT_S))

    def whole(self, piece: RawSegment, described: Segment) -> Segment:
        """The description of the set or rest going on (`piece`) from that of its `recent` part: the same
        when that is all of it, else with the reps counted before the recent part's first `SETTLE_S`."""
        recent = self.recent(piece)
        if recent.start == piece.start:
            self._rep_times = described.rep_times
            return described
        settled = recent.start + SETTLE_S
        self._rep_times = ([time for time in self._rep_times if piece.start <= time < settled]
                           + [time for time in described.rep_times if time >= settled])
        return replace(described, start=piece.start, reps=len(self._rep_times), rep_times=self._rep_times)

    def step(self, piece: RawSegment, described: Segment, now: float) -> bool:
        """Move the cuts after a processed frame at `now` (s), given the set or rest going on (`piece`) and
        what happened in it (`described`, `verdict.describe_segments`); True when they moved, which changes
        the piece going on."""
        if described.exercise in REP_SIGNALS and not described.reps and now - piece.start > self.rest_s:
            # No rep yet: resting or getting ready. The set starts later, when its reps do.
            if self.set_starts and self.set_starts[-1] == piece.start:
                self.set_starts[-1] = now - self.rest_s
            else:
                self.set_starts.append(now - self.rest_s)
            return True
        if described.reps and now - described.rep_times[-1] > self.rest_s:
            self.set_ends.append(described.rep_times[-1] + SET_END_AFTER_REP_S)
            return True
        return False

    def follow(self, segment: RawSegment, now: float, describe: Callable[[RawSegment], Segment]) -> Segment:
        """After a processed frame at `now` (s): the set or rest going on in `segment` (the timeline's segment
        going on, up to `now`), described (`describe`) on its `recent` part, once the cuts have moved
        (`step`)."""
        piece = self.current(segment)
        described = self.whole(piece, describe(self.recent(piece)))
        if self.step(piece, described, now):
            piece = self.current(segment)
            described = self.whole(piece, describe(self.recent(piece)))
        return described

    def sets(self, segments: list[RawSegment],
             describe_all: Callable[[list[RawSegment]], list[Segment]]) -> list[Segment]:
        """The timeline's `segments` cut where sets ended and began (`pieces`), described (`describe_all`),
        the rests between sets and the getting ready before them left out."""
        pieces = [piece for segment in segments for piece in self.pieces(segment)]
        described = describe_all(pieces)
        return [segment for piece, segment in zip(pieces, described) if not self.is_rest(piece, segment)]

    def is_rest(self, piece: RawSegment, described: Segment) -> bool:
        """No rep in a piece cut where a set ended or began: rest, or getting ready (a set that would start
        there and had no rep, the session or the segment over first, is no set either)."""
        at = (lambda seconds: any(abs(cut - seconds) < 1e-9 for cut in chain(self.set_ends, self.set_starts)))
        return described.exercise in REP_SIGNALS and described.reps == 0 and (at(piece.start) or at(piece.end))


def clip_sets(segments: list[RawSegment], describe_all: Callable[[list[RawSegment]], list[Segment]],
              count: Callable[[RawSegment], tuple[int, list[float]]], fps: float,
              rest_s: float = SET_REST_S) -> list[Segment]:
    """The sets of a whole clip's timeline (`segments`, described by `describe_all`): a `SetTracker`
    followed (`SetTracker.follow`) as a live session of the clip at `fps` follows it, then its `sets`.

    The cuts move on the reps alone, so the clip's pieces are only counted (`count`: their reps and rep
    times, as `describe_all` counts them) as the tracker is followed. Live mode follows it after every frame;
    here frame by frame too where a cut may move, and not where none can: in a piece's first `rest_s`; in a
    set whose first rep is over `rest_s` old (its count settled), up to `rest_s` after its last rep; and while
    no rep comes (getting ready, a rest), `AHEAD_S` at a time when the piece up to there has no rep (each
    frame between would have moved the set's start on)."""
    tracker = SetTracker(rest_s)

    def counted(piece: RawSegment) -> Segment:
        reps, rep_times = count(piece)
        return Segment(piece.exercise, piece.start, piece.end, piece.probability, piece.windows, reps, rep_times,
                       None, None)

    def after(seconds: float) -> int:
        """The first frame after `seconds`: the first whose piece counts a rep that ends then."""
        return math.floor(seconds * fps + 1e-6) + 1

    ahead = max(1, round(AHEAD_S * fps))
    for segment in segments:
        if segment.exercise not in REP_SIGNALS or segment.end - segment.start <= rest_s:
            continue  # no cut can fall in it
        now, last = after(segment.start + rest_s) - 1, math.floor(segment.end * fps + 1e-6)
        rep_times, rep_by = [], now  # of the piece going on; up to `rep_by` a rep comes: frame by frame
        while now < last:
            start = tracker.current(replace(segment, end=now / fps)).start
            if now / fps - start <= rest_s:
                frame = max(now + 1, after(start + rest_s))
            elif rep_times and rep_times[0] < now / fps - rest_s:
                frame = max(now + 1, after(rep_times[-1] + rest_s))
            elif rep_times or now < rep_by:
                frame = now + 1
            else:
                frame = min(last, now + ahead)
                if count(replace(segment, start=start, end=frame / fps))[0]:
                    frame, rep_by = now + 1, frame
            if frame > last:
                break
            rep_times = tracker.follow(replace(segment, end=frame / fps), frame / fps, counted).rep_times
            now = frame
    return tracker.sets(segments, describe_all)
