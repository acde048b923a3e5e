"""What happened in each segment of a timeline, and the verdict of the whole clip.

`describe_segments` adds what happened inside each segment: its reps (`reps.count_reps` on the
segment's frames), whether to abstain on it (`abstain.abstention`), and for push ups the form verdict
(`form.form_verdict`). `clip_verdict` makes the clip's verdict and its segments' agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .abstain import DEFAULT_THRESHOLDS, HOLD_EXERCISES, Abstention, AbstainThresholds, span_sample
from .form import FormModel, form_verdict
from .prediction import EXERCISE, NOT_SURE, Segment
from .reps import count_reps, range_of_motion
from .segments import RawSegment, span_frames

# A set lasts this long at least: a clip whose named time is mostly in segments this long is a workout of
# sets, judged by its segments (`clip_verdict`); otherwise short segments of exercises in turn are the
# model wavering (an unknown exercise taken for a squat, then a push up, then a squat again).
MIN_SET_S = 10.0


def segment_reps(segment: RawSegment, keypoints: np.ndarray, layout: str, fps: float,
                 detected: np.ndarray) -> tuple[int, list[float]]:
    """A segment's reps and their times (s from the sequence's first frame), as `describe_segments` counts
    them: all that sets are cut on (`sets.clip_sets`)."""
    first, frames, _ = span_frames(keypoints, detected, fps, segment.start, segment.end)
    counted = count_reps(frames, layout, fps, segment.exercise)
    return counted.reps, [first / fps + t for t in counted.rep_times]


def describe_segments(segments: list[RawSegment], keypoints: np.ndarray, layout: str, fps: float,
                      detected: np.ndarray, *, form_model: FormModel | None = None,
                      thresholds: AbstainThresholds = DEFAULT_THRESHOLDS,
                      frame_size: tuple[int, int] | None = None) -> list[Segment]:
    """The `segments` of the prediction: each segment with its `reps`, `rep_times` (s, from the clip's
    start), its verdict and `abstain` reason (`abstention` of its frames), `form` (push ups with a `form_model`: the verdict, else None), range of motion
    and hold time, from the clip's pose sequence: keypoints (T, J, C) in `layout` at `fps`, NaN where
    `detected` (T,) is False, of frames of `frame_size` (`span_sample`). Segment times are seconds from the
    sequence's first frame."""
    described = []
    for segment in segments:
        first, frames, seen = span_frames(keypoints, detected, fps, segment.start, segment.end)
        found = span_sample(keypoints, layout, fps, detected, segment.start, segment.end, segment.exercise,
                            segment.probability, frame_size=frame_size).abstention(thresholds)
        reps, rep_times = segment_reps(segment, keypoints, layout, fps, detected)
        form = None
        if form_model is not None and segment.exercise == "push up" and seen.any():
            form = form_verdict(frames, layout, form_model)
        hold_s = float(seen.sum()) / fps if segment.exercise in HOLD_EXERCISES else None
        described.append(Segment(segment.exercise, segment.start, segment.end, segment.probability, segment.windows,
                                 reps, rep_times,
                                 found.reason if found else None, form,
                                 range_of_motion(frames, layout, segment.exercise), hold_s,
                                 found.verdict if found else EXERCISE))
    return described


@dataclass(frozen=True)
class ClipVerdict:
    """`clip_verdict`: the verdict of a whole clip, the exercise it names (None unless EXERCISE) and the
    reason it names none (None when it names one)."""

    verdict: str
    exercise: str | None
    abstain: str | None


def clip_verdict(segments: list[Segment], clip: Abstention | None) -> tuple[ClipVerdict, list[Segment]]:
    """The clip's verdict from its segments, and the segments made to agree with it.

    `clip` is the `abstention` of the whole clip (its mean probabilities, its frames). No person in most
    of it, or walking or no motion through most of it, is the clip's verdict and every segment's (none is
    then named); so is a low probability, unless most of the named time is in sets of `MIN_SET_S` or
    more (a workout of several sets has a low mean probability and long sure segments). Else the clip
    names the exercise of the most named time (a workout by its main one); with no segment named it takes
    the longest segment's verdict, or NOT_SURE when no stretch of the clip reached the probability
    threshold.
    """
    named: dict[str, float] = {}
    in_sets = 0.0
    for segment in segments:
        if segment.verdict == EXERCISE:
            length = segment.end - segment.start
            named[segment.exercise] = named.get(segment.exercise, 0.0) + length
            in_sets += length if length >= MIN_SET_S else 0.0
    workout = in_sets > sum(named.values()) / 2
    if clip is not None and (clip.verdict != NOT_SURE or not workout):
        agreed = [segment if segment.verdict != EXERCISE else replace(segment, verdict=clip.verdict, abstain=clip.reason)
                  for segment in segments]
        return ClipVerdict(clip.verdict, None, clip.reason), agreed
    if named:
        return ClipVerdict(EXERCISE, max(named, key=named.get), None), segments
    if segments:
        longest = max(segments, key=lambda segment: segment.end - segment.start)
        return ClipVerdict(longest.verdict, None, longest.abstain), segments
    return ClipVerdict(NOT_SURE, None, "not sure which exercise (no stretch of the clip reaches the probability "
                                       "threshold)"), segments
