"""What `predict` and `live` print: a prediction as text, a live session's status line and its sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .overlay import captions_path
from .wording import clip_detail, count, segment_text

if TYPE_CHECKING:
    from pathlib import Path

    from ..analysis.prediction import Prediction


def prediction_report(prediction: Prediction, overlay: str | Path | None = None,
                      summary: str | Path | None = None) -> str:
    """The verdict first, then the model's ranking, the segments and the run's figures, with the files
    written (the `overlay` video and its captions, the workout `summary`)."""
    lines = [f"{prediction.headline}: {clip_detail(prediction)}", "the model's ranking:"]
    lines += [f"{rank}. {item.label:<20} {item.score:.1%}" for rank, item in enumerate(prediction.top_k, 1)]
    lines += [f"{segment.start:6.1f}-{segment.end:.1f} s  {segment_text(segment)}" for segment in prediction.segments]
    written = [f"overlay: {overlay} (captions: {captions_path(overlay)})"] if overlay else []
    written += [f"summary: {summary}"] if summary else []
    lines.append(f"{count(len(prediction.windows), 'window')}, person found in {prediction.detected_frames}/"
                 f"{prediction.frames} frames, {prediction.seconds:.1f} s" + "".join(f"; {item}" for item in written))
    return "\n".join(lines)


def live_status(update) -> str:
    """What a live update (`inference.live.LiveUpdate`) says: the exercise, or why the model is not sure,
    the reps of the set and the form cue."""
    named = update.label if update.abstain is None else f"not sure: {update.abstain}"
    form = f", {update.form}" if update.form else ""
    return f"{named}; {update.reps} reps{form}"


def live_summary(session: dict) -> str:
    """A live session's sets, one line each, and the frames it processed (`LiveSession.to_json`'s summary)."""
    lines = []
    for workout_set in session["sets"]:
        form = f", {workout_set['form']}" if workout_set["form"] else ""
        lines.append(f"set: {workout_set['start_s']:.1f}-{workout_set['end_s']:.1f} s  {workout_set['exercise']}: "
                     f"{workout_set['reps']} reps{form}")
    lines.append(f"{session['frames_processed']} of {session['frames_received']} frames processed in "
                 f"{session['seconds']:.1f} s")
    return "\n".join(lines)
