"""The prediction schema: one JSON form, versioned, read back to the same prediction."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gym_gesture.analysis.prediction import (EXERCISE, NOT_SURE, SCHEMA_VERSION, ClassScore, FormVerdict, Prediction, Segment,
                                    WindowScore)

# The keys of `gym-gesture predict --json`, as documented in gym_gesture/prediction.py and the README.
PREDICTION_KEYS = ["schema_version", "top_k", "windows", "segments", "verdict", "exercise", "reps", "abstain", "frames", "detected_frames",
                   "seconds", "timings", "fps", "backend", "model", "overlay_path", "people_seen", "followed",
                   "detection_rate"]
SEGMENT_KEYS = ["exercise", "start", "end", "probability", "windows", "reps", "rep_times", "abstain", "form",
                "range_of_motion", "hold_s", "verdict"]
FORM_KEYS = ["verdict", "probability_good", "angles", "hint"]


def _prediction() -> Prediction:
    """Two windows of push ups then an unsure stretch, with numbers finer than the JSON keeps."""
    form = FormVerdict("check your form", 0.23456, {"body_line": 151.23456, "elbow_min": np.float32(88.5)},
                       "do not let your hips sag")
    return Prediction(
        top_k=[ClassScore("push up", np.float32(0.812345)), ClassScore("plank", 0.1)],
        windows=[WindowScore(0.0, 3.0, "push up", 0.9), WindowScore(np.float64(1.5), 4.5000001, "plank", 0.51)],
        segments=[Segment("push up", 0.0, 3.75, 0.70005, 2, 2, [1.2345, np.float64(2.9)], None, form, 71.234, None),
                  Segment("plank", 3.75, 4.5, 0.4, 1, 0, [], "not sure which exercise", None, None, 0.7499,
                          NOT_SURE)],
        verdict=EXERCISE, exercise="push up", reps=2, abstain=None, frames=45, detected_frames=44, seconds=1.23456,
        timings={"pose": 1.0001, "windows": 0.0004, "model": 0.2}, fps=10.0, backend="mediapipe",
        model="checkpoints/gym7-transformer", window_probabilities=np.array([[0.9, 0.1], [0.49, 0.51]]),
        class_names=["push up", "plank"])


def test_json_round_trips_to_the_same_prediction():
    prediction = _prediction()
    text = json.dumps(prediction.to_json())
    assert Prediction.from_json(json.loads(text)) == prediction
    assert json.dumps(Prediction.from_json(json.loads(text)).to_json()) == text


def test_json_is_versioned_and_has_the_documented_keys():
    payload = _prediction().to_json()
    assert payload["schema_version"] == SCHEMA_VERSION == 4
    assert list(payload) == PREDICTION_KEYS
    assert all(list(item) == ["label", "score"] for item in payload["top_k"])
    assert all(list(window) == ["start_s", "end_s", "label", "score"] for window in payload["windows"])
    assert all(list(segment) == SEGMENT_KEYS for segment in payload["segments"])
    assert list(payload["segments"][0]["form"]) == FORM_KEYS and payload["segments"][1]["form"] is None
    assert payload["detection_rate"] == round(44 / 45, 4)


def test_numbers_are_kept_at_the_precision_the_json_publishes():
    prediction = _prediction()
    assert prediction.top_k[0].score == 0.8123 and type(prediction.top_k[0].score) is float
    assert (prediction.windows[1].start_s, prediction.windows[1].end_s) == (1.5, 4.5)
    segment = prediction.segments[0]
    assert (segment.probability, segment.rep_times, segment.range_of_motion) == (0.7, [1.23, 2.9], 71.2)
    assert prediction.segments[1].hold_s == 0.75
    assert segment.form.probability_good == 0.235 and segment.form.angles == {"body_line": 151.235, "elbow_min": 88.5}
    assert (prediction.seconds, prediction.timings) == (1.235, {"pose": 1.0, "windows": 0.0, "model": 0.2})
    assert prediction.label == "push up" and prediction.detection_rate == 44 / 45


def test_window_probabilities_stay_out_of_the_json():
    prediction = _prediction()
    payload = prediction.to_json()
    assert "window_probabilities" not in payload and "class_names" not in payload
    assert Prediction.from_json(payload).window_probabilities is None


@pytest.mark.parametrize("payload", [
    {**_prediction().to_json(), "schema_version": 2},
    {**_prediction().to_json(), "verdict": "maybe"},
    {**_prediction().to_json(), "verdict": NOT_SURE},  # a non-verdict needs its reason
    {key: value for key, value in _prediction().to_json().items() if key != "schema_version"},
    {key: value for key, value in _prediction().to_json().items() if key != "windows"},
    {**_prediction().to_json(), "top_k": [{"label": "squat"}]},
    ["not", "a", "prediction"],
])
def test_other_versions_and_other_json_are_refused(payload):
    with pytest.raises(ValueError, match="not a gym-gesture prediction"):
        Prediction.from_json(payload)


def test_the_headline_is_the_exercise_or_plainly_the_non_verdict():
    named = _prediction()
    assert (named.headline, named.duration) == ("push up", 4.5)
    unsure = Prediction.from_json({**named.to_json(), "verdict": NOT_SURE, "exercise": None,
                                   "abstain": "not sure which exercise (top probability 0.41 < 0.65)"})
    assert unsure.headline == "Not sure"
    with pytest.raises(ValueError, match="verdict 'exercise' with exercise None"):
        Prediction.from_json({**named.to_json(), "exercise": None})


def test_the_inference_module_still_exports_prediction():
    from gym_gesture.inference import recognizer as inference

    assert inference.Prediction is Prediction
