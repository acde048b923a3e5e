"""What `predict` and `live` print: a prediction as text, a live session's status line and its sets, in the
words of `wording` (the numbers behind a verdict are in `--json`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.prediction import EXERCISE, Segment
from .overlay import captions_path
from .wording import (advice_by_start, amount, clip_detail, clip_form_advice, count, live_headline, plain_reason,
                      segment_text, shown_ranking)

if TYPE_CHECKING:
    from pathlib import Path

    from ..analysis.prediction import Prediction


def prediction_report(prediction: Prediction, overlay: str | Path | None = None,
                      summary: str | Path | None = None) -> str:
    """The verdict first (with the form advice), then the model's ranking (its first only the closest class
    when no exercise is named), the segments and the run's figures, with the files written (the `overlay`
    video and its captions, the workout `summary`)."""
    lines = [f"{prediction.headline}: {clip_detail(prediction)}"]
    advice = clip_form_advice(prediction)
    lines += [advice] if advice else []
    ranking = shown_ranking(prediction)
    closest = "" if prediction.verdict == EXERCISE else "  (closest, not named)"
    lines += ["the model's ranking:"] if ranking else []
    lines += [f"{rank}. {item.label:<20} {item.score:.1%}" + (closest if rank == 1 else "")
              for rank, item in enumerate(ranking, 1)]
    lines += [f"{segment.start:6.1f}-{segment.end:.1f} s  {segment_text(segment)}" for segment in prediction.segments]
    written = [f"overlay: {overlay} (captions: {captions_path(overlay)})"] if overlay else []
    written += [f"summary: {summary}"] if summary else []
    lines.append(f"{count(len(prediction.windows), 'window')}, person found in {prediction.detected_frames}/"
                 f"{prediction.frames} frames, {prediction.seconds:.1f} s" + "".join(f"; {item}" for item in written))
    return "\n".join(lines)


def live_status(update) -> str:
    """What a live update (`inference.live.LiveUpdate`) says: the exercise, or plainly which non-verdict and
    what to do, the reps of the set and the form cue."""
    named = live_headline(update.label, update.abstain)
    said = plain_reason(update.abstain) if update.abstain else ""
    reason = f" ({said[:1].lower()}{said[1:]})" if said else ""
    form = f", {update.form}" if update.form else ""
    return f"{named}{reason}; {count(update.reps, 'rep')}{form}"


def live_summary(session: dict) -> str:
    """A live session's sets, one line each with its form advice, and the frames it processed
    (`LiveSession.to_json`'s summary)."""
    advice = advice_by_start([Segment.from_json(segment) for segment in session["segments"]])
    lines = []
    for workout_set in session["sets"]:
        form = advice.get(workout_set["start_s"])
        lines.append(f"set: {workout_set['start_s']:.1f}-{workout_set['end_s']:.1f} s  {workout_set['exercise']}: "
                     f"{amount(workout_set['reps'], workout_set['hold_s'])}" + (f", {form}" if form else ""))
    lines.append(f"{session['frames_processed']} of {session['frames_received']} frames processed in "
                 f"{session['seconds']:.1f} s")
    return "\n".join(lines)
