"""Sets and the rests between them in a live session, decided step by step as the reps come (or not).

A set ends when `SET_REST_S` pass without a rep, and the next one starts at most `SET_REST_S` before
its first rep: the rest between is no set, and its frames never widen the range the rep counter's
thresholds sit in (a long still stretch would hide the next reps from it). A clip given whole to `predict`
has no sets: its segments are described from end to end.

The set going on is described after every processed frame; one longer than `RECENT_S` is described on its
last `RECENT_S` only (its abstain decision and form cue read them), its earlier reps kept as counted, so
that a frame costs no more ten minutes into a set than one minute into it.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import chain

from .prediction import Segment
from .reps import REP_SIGNALS
from .segments import RawSegment

# Longer than the slowest rep `reps.count_cycles` counts (8 s), so a slow rep never splits a set.
SET_REST_S = 10.0
# A set ended by rest is cut this long after its last rep: the way back to rest stays in it.
SET_END_AFTER_REP_S = 1.0
# A set going on is described on its last minute at most (`SetTracker.recent`) ...
RECENT_S = 60.0
# ... and of the reps counted there, those this far in or later are taken: before them the counter has had two
# of its range windows (`reps.RANGE_WINDOW_S`) and its slowest rep (8 s) to settle as on the whole set.
SETTLE_S = 20.0


class SetTracker:
    """Where sets ended (`set_ends`, s) and began after a rest or getting ready (`set_starts`, s) in one
    live session, and the reps of the set going on: state kept from one processed frame to the next, as a
    gym counter keeps a count and a stage per person.

        piece = sets.current(segment)           # the set (or rest) going on in the segment going on
        described = sets.whole(piece, describe(sets.recent(piece)))
        if sets.step(piece, described, now):    # a set ended, or no rep yet: the cut moved
            ...                                  # the same again for sets.current(segment)
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

    def is_rest(self, piece: RawSegment, described: Segment) -> bool:
        """No rep between a set's end and the next set's start: rest, or getting ready."""
        at = (lambda cuts, seconds: any(abs(cut - seconds) < 1e-9 for cut in cuts))
        return (described.exercise in REP_SIGNALS and described.reps == 0
                and (at(self.set_ends, piece.start) or at(self.set_starts, piece.end)))
