"""Sets and the rests between them in a live session, decided step by step as the reps come (or not).

A set ends when `SET_REST_S` pass without a rep, and the next one starts at most `SET_REST_S` before
its first rep: the rest between is no set, and its frames never widen the range the rep counter's
thresholds sit in (a long still stretch would hide the next reps from it). A clip given whole to `predict`
has no sets: its segments are described from end to end.
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


class SetTracker:
    """Where sets ended (`set_ends`, s) and began after a rest or getting ready (`set_starts`, s) in one
    live session: state kept from one processed frame to the next, as a gym counter keeps a count and a
    stage per person, moved by `step` only.

        piece = sets.current(segment)           # the set (or rest) going on in the segment going on
        described = describe(piece)
        if sets.step(piece, described, now):    # a set ended, or no rep yet: the cut moved
            described = describe(sets.current(segment))
    """

    def __init__(self, rest_s: float = SET_REST_S):
        self.rest_s = rest_s
        self.set_ends: list[float] = []
        self.set_starts: list[float] = []

    def _cuts(self, segment: RawSegment):
        return (cut for cut in chain(self.set_ends, self.set_starts) if segment.start < cut < segment.end)

    def pieces(self, segment: RawSegment) -> list[RawSegment]:
        """A segment cut where sets ended and began."""
        bounds = [segment.start, *sorted(self._cuts(segment)), segment.end]
        return [replace(segment, start=start, end=end) for start, end in zip(bounds, bounds[1:])]

    def current(self, segment: RawSegment) -> RawSegment:
        """The last of `pieces(segment)`: the set or rest going on when `segment` is."""
        return replace(segment, start=max(self._cuts(segment), default=segment.start), end=segment.end)

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
