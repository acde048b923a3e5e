"""The words a person reads of a prediction, the same in the CLI, the app and the overlay's captions: the
headline (the exercise, or plainly which non-verdict), why no exercise is named and what to do about it, the
form advice, one line per segment, the ranking's caption, counts with their plural.

The recognizer's abstain reasons (`Prediction.abstain`, `Segment.abstain`) carry the measurements and
thresholds behind them: they stay in the JSON and the app's details. What a person reads instead is said
here, by the reason's kind (its leading words) and its verdict: what happened, and what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..analysis.form import CHECK, GOOD
from ..analysis.prediction import (EXERCISE, NO_PERSON, NOT_AN_EXERCISE, NOT_SURE, VERDICT_HEADLINES, FormVerdict,
                                   Prediction, Segment)

if TYPE_CHECKING:
    from ..analysis.summary import WorkoutSet

# Above the ranking when an exercise is named; when none is, the ranking is only what the model leans to.
RANKING_CAPTION = "The model's ranking"
FILM_WHOLE_BODY = "film your whole body from the side, in good light"


@dataclass(frozen=True)
class ReasonKind:
    """One kind of abstain reason: the `prefix` its text starts with, its verdict, what happened and what
    the person can do about it."""

    prefix: str
    verdict: str
    what: str
    todo: str

    @property
    def text(self) -> str:
        """"Walking, not an exercise done in place: stay on the spot while you train"."""
        return f"{self.what}: {self.todo}"


# The reasons of analysis.abstain, inference.recognizer (nobody in the clip) and inference.live (nobody in
# view), the longer prefix of two first.
REASON_KINDS = (
    ReasonKind("no person in view", NO_PERSON, "Nobody in view", "step back until the camera sees your whole body"),
    ReasonKind("no person", NO_PERSON, "Nobody found in most of the clip", FILM_WHOLE_BODY),
    ReasonKind("nobody found", NO_PERSON, "Nobody found", FILM_WHOLE_BODY),
    ReasonKind("a person was found in only", NO_PERSON, "Seen too briefly",
               "film your whole body for a few seconds longer"),
    ReasonKind("walking", NOT_AN_EXERCISE, "Walking, not an exercise done in place",
               "stay on the spot while you train"),
    ReasonKind("no exercise motion", NOT_AN_EXERCISE, "Holding still too long", "move through the whole exercise"),
    ReasonKind("not sure which exercise", NOT_SURE, "Not clearly an exercise I know",
               "film your whole body from the side and do a few full reps"),
    ReasonKind("not close enough to the clips", NOT_SURE, "Not done as in the clips it was taught from",
               "do it as in those clips, filmed the same way"),
)
# A reason of a kind not listed: said by its verdict alone.
KIND_OF_VERDICT = {
    NO_PERSON: ReasonKind("", NO_PERSON, "Nobody found", FILM_WHOLE_BODY),
    NOT_AN_EXERCISE: ReasonKind("", NOT_AN_EXERCISE, "Not an exercise done in place",
                                "stay on the spot and move through the whole exercise"),
    NOT_SURE: ReasonKind("", NOT_SURE, "Not clearly an exercise I know",
                         "film your whole body from the side and do a few full reps"),
}


def reason_kind(reason: str, verdict: str | None = None) -> ReasonKind:
    """The kind of an abstain `reason`; one of another kind is taken by its `verdict` (NOT_SURE without one)."""
    lowered = reason.strip().lower()
    for kind in REASON_KINDS:
        if lowered.startswith(kind.prefix):
            return kind
    return KIND_OF_VERDICT[verdict if verdict in KIND_OF_VERDICT else NOT_SURE]


def plain_reason(reason: str, verdict: str | None = None) -> str:
    """What a person reads for an abstain `reason`: what happened and what to do, without its numbers."""
    return reason_kind(reason, verdict).text


def sentence(text: str) -> str:
    """`text` as a sentence: capitalised, with a full stop."""
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}" if text else text


def plural(number: int, noun: str) -> str:
    """The `noun` as said of `number` things: "rep" of 1, "reps" of 0 or 3."""
    return noun if number == 1 else f"{noun}s"


def count(number: int, noun: str) -> str:
    """"1 rep", "3 reps", "0 windows"."""
    return f"{number} {plural(number, noun)}"


def amount(reps: int, hold_s: float | None) -> str:
    """What a set adds up to: its hold time for a hold (`hold_s` not None), else its reps."""
    return f"held {hold_s:.0f} s" if hold_s is not None else count(reps, "rep")


def form_advice(form: FormVerdict | None) -> str | None:
    """"good form", or "check your form: " and what to change ("keep your hips in line with your shoulders
    and ankles"); None where no form verdict is made."""
    if form is None:
        return None
    if form.verdict == GOOD:
        return "good form"
    return f"{CHECK}: {form.hint}" if form.hint else CHECK


def segment_text(segment: Segment) -> str:
    """"squat, 3 reps", "plank, held 12 s", "push up, 3 reps, check your form: do not let your hips sag", or
    the non-verdict with the model's guess ("not sure (maybe squat)")."""
    if segment.verdict != EXERCISE:
        headline = VERDICT_HEADLINES[segment.verdict]
        guess = f" (maybe {segment.exercise})" if segment.verdict == NOT_SURE else ""
        return headline[0].lower() + headline[1:] + guess
    advice = form_advice(segment.form)
    return f"{segment.exercise}, {amount(segment.reps, segment.hold_s)}" + (f", {advice}" if advice else "")


def advice_by_start(segments: list[Segment]) -> dict[float, str]:
    """The form advice of each segment with a form verdict, by its start: a workout set's
    (`summary.WorkoutSet`) is that of the segment it was made from, which starts where it does."""
    return {segment.start: form_advice(segment.form) for segment in segments if segment.form is not None}


def _named_segments(prediction: Prediction) -> list[Segment]:
    return [segment for segment in prediction.segments
            if segment.verdict == EXERCISE and segment.exercise == prediction.exercise]


def clip_detail(prediction: Prediction) -> str:
    """The line under the headline: what the named exercise adds up to, or why none is named and what to do."""
    if prediction.verdict == EXERCISE:
        holds = [segment.hold_s for segment in _named_segments(prediction) if segment.hold_s is not None]
        return f"held {sum(holds):.0f} s" if holds else count(prediction.reps, "rep")
    kind = reason_kind(prediction.abstain, prediction.verdict)
    if prediction.verdict == NOT_SURE:
        return sentence(f"{kind.what} (the model leans to {prediction.top_k[0].label}): {kind.todo}")
    return sentence(kind.text)


def clip_form_advice(prediction: Prediction) -> str | None:
    """The form advice on the exercise named, each piece once in time order, as a sentence; None without any."""
    advice = dict.fromkeys(form_advice(segment.form) for segment in _named_segments(prediction)
                           if segment.form is not None)
    return sentence("; ".join(advice)) if advice else None


def shown_ranking(prediction: Prediction) -> list:
    """The ranking a person is shown: none under "no person", even where someone was found in a few frames
    (the multi-person backend finds a person lying sideways now and then), so that no exercise is offered
    where the answer is that nobody was seen."""
    return [] if prediction.verdict == NO_PERSON else list(prediction.top_k)


def ranking_caption(prediction: Prediction) -> str:
    """Above the ranking: the model's ranking when it names an exercise, else only the class it leans to,
    never shown as an answer ("Closest: squat"); the plain caption over no ranking (`shown_ranking`)."""
    ranking = shown_ranking(prediction)
    return RANKING_CAPTION if prediction.verdict == EXERCISE or not ranking else f"Closest: {ranking[0].label}"


# The workout summary's columns (`summary.SUMMARY_COLUMNS`, which its files keep) as a person reads them;
# the Form column says the verdict and the advice in one (`form_advice`), the files in two columns.
SET_HEADERS = {"exercise": "Exercise", "start_s": "Start (s)", "end_s": "End (s)", "reps": "Reps",
               "tempo_s_per_rep": "Seconds per rep", "range_of_motion_deg": "Range of motion (°)",
               "main_joint": "Main joint", "hold_s": "Held (s)", "form": "Form"}


def set_rows(sets: list[WorkoutSet], segments: list[Segment]) -> list[list]:
    """The workout `sets` as a person reads them, one list a set in the order of SET_HEADERS: the form
    column with the form advice (`form_advice`) of the set's segment of `segments`, blanks for what does
    not apply."""
    advice = advice_by_start(segments)
    rows = []
    for workout_set in sets:
        values = {**asdict(workout_set), "form": advice.get(workout_set.start_s)}
        rows.append(["" if values[column] is None else values[column] for column in SET_HEADERS])
    return rows


def live_headline(label: str | None, abstain: str | None) -> str:
    """What live mode shows first for the segment going on (`inference.live.LiveUpdate`): the exercise,
    or plainly which non-verdict its abstain reason is."""
    if abstain is None and label:
        return label
    return VERDICT_HEADLINES[reason_kind(abstain or "").verdict]


def caption_cues(prediction: Prediction) -> list[tuple[float, float, str]]:
    """The overlay's captions: each segment's text over its time, or the headline over the whole clip."""
    if not prediction.segments:
        return [(0.0, prediction.duration, prediction.headline)]
    return [(segment.start, segment.end, segment_text(segment)) for segment in prediction.segments]


__all__ = ["KIND_OF_VERDICT", "RANKING_CAPTION", "REASON_KINDS", "SET_HEADERS", "ReasonKind", "advice_by_start",
           "amount", "caption_cues", "clip_detail", "clip_form_advice", "count", "form_advice", "live_headline",
           "plain_reason", "plural", "ranking_caption", "reason_kind", "segment_text", "sentence", "set_rows"]
