"""The words a person reads of a prediction, the same in the CLI, the app and the overlay's captions:
the headline (the exercise, or plainly which non-verdict), one line per segment, counts with their plural."""

from __future__ import annotations

from ..analysis.prediction import EXERCISE, NOT_SURE, VERDICT_HEADLINES, Prediction, Segment


def count(number: int, noun: str) -> str:
    """"1 rep", "3 reps", "0 windows"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def amount(segment: Segment) -> str:
    """What a set adds up to: its hold time for a hold, else its reps."""
    return f"held {segment.hold_s:.0f} s" if segment.hold_s is not None else count(segment.reps, "rep")


def segment_text(segment: Segment) -> str:
    """"squat, 3 reps", "plank, held 12 s", "push up, 3 reps, check your form", or the non-verdict with the
    model's guess ("not sure (maybe squat)")."""
    if segment.verdict != EXERCISE:
        headline = VERDICT_HEADLINES[segment.verdict]
        guess = f" (maybe {segment.exercise})" if segment.verdict == NOT_SURE else ""
        return headline[0].lower() + headline[1:] + guess
    text = f"{segment.exercise}, {amount(segment)}"
    return text + (f", {segment.form.verdict}" if segment.form else "")


def clip_detail(prediction: Prediction) -> str:
    """The line under the headline: what the named exercise adds up to, or why none is named."""
    if prediction.verdict == EXERCISE:
        named = [segment for segment in prediction.segments
                 if segment.verdict == EXERCISE and segment.exercise == prediction.exercise]
        holds = [segment.hold_s for segment in named if segment.hold_s is not None]
        return f"held {sum(holds):.0f} s" if holds else count(prediction.reps, "rep")
    reason = prediction.abstain
    if prediction.verdict == NOT_SURE:
        return f"{reason[0].upper()}{reason[1:]}; the model leans to {prediction.top_k[0].label}."
    return f"{reason[0].upper()}{reason[1:]}."


def caption_cues(prediction: Prediction) -> list[tuple[float, float, str]]:
    """The overlay's captions: each segment's text over its time, or the headline over the whole clip."""
    if not prediction.segments:
        return [(0.0, prediction.duration, prediction.headline)]
    return [(segment.start, segment.end, segment_text(segment)) for segment in prediction.segments]


__all__ = ["amount", "caption_cues", "clip_detail", "count", "segment_text"]
