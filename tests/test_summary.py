"""The workout summary: sets from a real clip's timeline, and the CSV / JSON a person downloads."""

from __future__ import annotations

import csv
import json

import pytest

from gym_gesture.analysis.form import CHECK, GOOD
from gym_gesture.analysis.prediction import NOT_SURE, FormVerdict, Segment
from gym_gesture.analysis.summary import SUMMARY_COLUMNS, workout_sets, write_summary

from conftest import FIXTURES


def test_a_real_push_up_set_gives_its_reps_tempo_elbow_range_and_form(recognizer, shared_data):
    truth = json.loads((FIXTURES / "rep_counts.json").read_text())["clips"]["push_up_wrong94.mp4"]
    prediction = recognizer.predict(shared_data / "videos" / "push_up_wrong94.mp4")
    (push_ups,) = workout_sets(prediction.segments)
    assert push_ups.exercise == "push up" and abs(push_ups.reps - truth["reps"]) <= 1
    assert push_ups.main_joint == "elbow"
    # A push up bends the elbows by tens of degrees; holding the top would swing them by a few.
    assert 30 < push_ups.range_of_motion_deg < 150
    (segment,) = [segment for segment in prediction.segments if segment.abstain is None]
    rep_times = segment.rep_times
    assert push_ups.tempo_s_per_rep == pytest.approx((rep_times[-1] - rep_times[0]) / (len(rep_times) - 1), abs=0.01)
    # 3 reps in 3 s: between half a second and 3 s a rep.
    assert 0.5 < push_ups.tempo_s_per_rep < 3.0
    assert push_ups.hold_s is None and push_ups.form in (GOOD, CHECK)
    # What to change, in a sentence, after "check your form" (push_up_wrong94 is wrong by its label).
    assert push_ups.form_advice == segment.form.hint
    assert push_ups.form_advice is None if push_ups.form == GOOD else len(push_ups.form_advice.split()) >= 3


def test_abstained_segments_are_no_set_and_holds_report_their_time(tmp_path):
    form = FormVerdict(CHECK, 0.2, {}, "do not let your hips sag")
    segments = [Segment("push up", 0.0, 6.0, 0.9, 5, 3, [2.0, 3.5, 5.0], None, form, 60.0, None),
                Segment("squat", 6.0, 8.0, 0.4, 1, 0, [], "not sure which exercise", None, None, None, NOT_SURE),
                Segment("plank", 8.0, 20.0, 0.95, 20, 0, [], None, None, None, 11.5)]
    push_ups, plank = workout_sets(segments)
    assert (push_ups.exercise, push_ups.reps, push_ups.tempo_s_per_rep, push_ups.form) == ("push up", 3, 1.5, CHECK)
    assert (plank.exercise, plank.hold_s, plank.tempo_s_per_rep, plank.main_joint) == ("plank", 11.5, None, None)

    rows = list(csv.DictReader(write_summary([push_ups, plank], tmp_path / "workout.csv").open()))
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    assert [(row["exercise"], row["reps"], row["hold_s"]) for row in rows] == [("push up", "3", ""), ("plank", "0", "11.5")]
    assert [(row["form"], row["form_advice"]) for row in rows] == [(CHECK, "do not let your hips sag"), ("", "")]
    written = json.loads(write_summary([push_ups, plank], tmp_path / "workout.json").read_text())
    assert [item["exercise"] for item in written["sets"]] == ["push up", "plank"]
    assert written["sets"][1]["hold_s"] == 11.5
