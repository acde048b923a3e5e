"""What a person reads: every abstain reason the recognizer gives said plainly, with what to do and without
its numbers; form advice; plurals; the ranking never an answer against the verdict; the CLI's text."""

from __future__ import annotations

import re

import pytest

from gym_gesture.analysis.form import CHECK, GOOD
from gym_gesture.analysis.prediction import (EXERCISE, NO_PERSON, NOT_AN_EXERCISE, NOT_SURE, ClassScore, FormVerdict,
                                             Prediction, Segment)
from gym_gesture.analysis.summary import workout_sets
from gym_gesture.analysis.abstain import AbstainThresholds, PrototypeSimilarity, abstention
from gym_gesture.analysis.verdict import clip_verdict
from gym_gesture.render.reports import live_status, prediction_report
from gym_gesture.render.wording import (SET_HEADERS, clip_detail, clip_form_advice, count, form_advice, live_headline,
                                        plain_reason, ranking_caption, reason_kind, segment_text, set_rows,
                                        shown_ranking)

THRESHOLDS = AbstainThresholds(min_detection_rate=0.5, min_probability=0.6, min_motion=0.05, min_walk_speed=0.5)
# Every branch of `timeline.abstention`, with the kind a person reads of it.
ABSTENTIONS = {
    "no person": (dict(detection_rate=0.3, top_probability=0.9, motion=0.2, exercise="squat"), "Nobody found"),
    "walking": (dict(detection_rate=1.0, top_probability=0.9, motion=0.2, exercise="squat", walking=0.8), "Walking"),
    "no motion": (dict(detection_rate=1.0, top_probability=0.9, motion=0.043, exercise="chest fly machine"),
                  "Holding still too long: move through the whole exercise"),
    "not sure": (dict(detection_rate=1.0, top_probability=0.45, motion=0.2, exercise="squat"), "Not clearly"),
    "not like the taught clips": (dict(detection_rate=1.0, top_probability=0.9, motion=0.2, exercise="shrug",
                                       similarity=PrototypeSimilarity(0.7, 0.832)), "Not done as in the clips"),
}
HINT = "keep your hips in line with your shoulders and ankles"


@pytest.mark.parametrize("case", list(ABSTENTIONS))
def test_every_abstain_reason_is_said_plainly_with_what_to_do(case):
    arguments, plain_start = ABSTENTIONS[case]
    found = abstention(**arguments, thresholds=THRESHOLDS)
    assert re.search(r"\d", found.reason)  # the recognizer's reason, with its numbers, stays in the JSON
    kind = reason_kind(found.reason, found.verdict)
    assert kind.verdict == found.verdict and kind.prefix  # known by its own words, not only by its verdict
    said = plain_reason(found.reason, found.verdict)
    assert said.startswith(plain_start) and ": " in said  # what happened: what to do
    assert not re.search(r"\d|<|>", said), said


@pytest.mark.parametrize("reason, verdict, plain_start", [
    ("nobody found in any of its 20 frames (at 10 fps)", NO_PERSON, "Nobody found: film your whole body"),
    ("a person was found in only 4 of 30 frames, too few for one window; film the whole body for longer", NO_PERSON,
     "Seen too briefly"),
    ("no person in view", NO_PERSON, "Nobody in view"),
    (clip_verdict([], None)[0].abstain, NOT_SURE, "Not clearly an exercise I know"),
    ("a reason of a kind added later (0.5 < 0.7)", NOT_AN_EXERCISE, "Not an exercise done in place"),
])
def test_the_recognizers_other_reasons_and_unknown_ones_are_said_by_their_kind(reason, verdict, plain_start):
    assert reason_kind(reason, verdict).verdict == verdict
    said = plain_reason(reason, verdict)
    assert said.startswith(plain_start) and not re.search(r"\d", said)


def _prediction(verdict: str, abstain: str | None, form: FormVerdict | None = None) -> Prediction:
    named = verdict == EXERCISE
    segment = Segment("push up", 0.0, 6.0, 0.9 if named else 0.45, 3, 5, [1.0, 2.0, 3.0, 4.0, 5.0], abstain, form,
                      verdict=verdict)
    return Prediction(top_k=[ClassScore("push up", 0.9 if named else 0.45), ClassScore("plank", 0.05)], windows=[],
                      segments=[segment], verdict=verdict, exercise="push up" if named else None,
                      reps=5 if named else 0, abstain=abstain, frames=60, detected_frames=60, seconds=1.0, timings={},
                      fps=10.0, backend="mediapipe", model="gym7-transformer")


def test_the_ranking_is_only_the_closest_when_no_exercise_is_named():
    named = _prediction(EXERCISE, None)
    assert ranking_caption(named) == "The model's ranking" and clip_detail(named) == "5 reps"
    reason = abstention(1.0, 0.45, 0.2, "push up", thresholds=THRESHOLDS).reason
    unsure = _prediction(NOT_SURE, reason)
    assert ranking_caption(unsure) == "Closest: push up"
    assert clip_detail(unsure) == ("Not clearly an exercise I know (the model leans to push up): film your whole "
                                   "body from the side and do a few full reps.")
    report = prediction_report(unsure).splitlines()
    assert report[0] == f"Not sure: {clip_detail(unsure)}"
    assert report[1] == "the model's ranking:" and report[2].endswith("(closest, not named)")
    assert not re.search(r"0\.45|0\.60|<", "\n".join(report))  # the numbers are for --json
    assert "closest" not in prediction_report(named)


def test_no_ranking_is_shown_where_nobody_was_found_in_most_frames():
    """Someone found in a few frames (a person lying sideways, now and then) still reads "no person": no
    exercise is offered beside it, on the page or in the CLI, though the JSON keeps the model's scores."""
    nobody = _prediction(NO_PERSON, "a person was found in only 12 of 31 frames (39%); film the whole body")
    assert shown_ranking(nobody) == [] and ranking_caption(nobody) == "The model's ranking"
    assert not [line for line in prediction_report(nobody).splitlines() if "ranking" in line or "push up" in line]
    assert [item.label for item in nobody.top_k] == ["push up", "plank"]
    assert shown_ranking(_prediction(NOT_SURE, "top probability 0.45 < 0.60")) == nobody.top_k


def test_form_advice_is_said_in_the_verdict_the_segments_the_sets_and_the_cli():
    form = FormVerdict(CHECK, 0.2, {"hip_offset": 0.1}, HINT)
    prediction = _prediction(EXERCISE, None, form)
    advice = f"check your form: {HINT}"
    assert form_advice(form) == advice and form_advice(FormVerdict(GOOD, 0.9, {}, None)) == "good form"
    assert form_advice(None) is None
    assert clip_form_advice(prediction) == f"Check your form: {HINT}."
    assert segment_text(prediction.segments[0]) == f"push up, 5 reps, {advice}"
    [row] = set_rows(workout_sets(prediction.segments), prediction.segments)
    assert dict(zip(SET_HEADERS, row))["form"] == advice and dict(zip(SET_HEADERS, row))["hold_s"] == ""
    assert list(SET_HEADERS.values())[:4] == ["Exercise", "Start (s)", "End (s)", "Reps"]
    assert prediction_report(prediction).splitlines()[:2] == ["push up: 5 reps", f"Check your form: {HINT}."]


def test_plurals_are_right():
    assert [count(number, "rep") for number in (0, 1, 2)] == ["0 reps", "1 rep", "2 reps"]

    class Update:
        label, abstain, reps, form = "squat", None, 1, None

    assert live_status(Update()) == "squat; 1 rep"


def test_live_mode_says_which_non_verdict_and_what_to_do():
    assert live_headline("squat", None) == "squat"
    assert live_headline(None, "no person in view") == "No person"
    assert live_headline("squat", abstention(1.0, 0.9, 0.01, "squat", thresholds=THRESHOLDS).reason) \
        == "Not an exercise I know"
    assert live_headline("squat", "not sure which exercise (top probability 0.41 < 0.60)") == "Not sure"
