"""Push-up form: features on real keypoints, the JSON model, training split by clip, verdicts on real clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gym_gesture.analysis.form import CHECK, GOOD, FEATURES, FormModel, form_features, form_verdict, train_form_model
from gym_gesture.inference.recognizer import DEFAULT_MODEL_DIR, FORM_MODEL_FILE
from gym_gesture.model.skeleton import get_layout

CHECKPOINT = DEFAULT_MODEL_DIR / FORM_MODEL_FILE
ARCHIVE = "keypoints/pushup_form_mediapipe33.npz"
_MP = get_layout("mediapipe33").index


@pytest.fixture(scope="module")
def good_clip(shared_data) -> np.ndarray:
    return np.load(shared_data / ARCHIVE)["push up/correct19"][..., :3].astype(np.float32)


def test_sagging_hips_read_as_sag_whichever_way_the_person_faces(good_clip):
    sagging = good_clip.copy()
    sagging[:, [_MP["left_hip"], _MP["right_hip"]], 1] += 0.08  # hips lower in the image
    straight, sag = form_features(good_clip, "mediapipe33"), form_features(sagging, "mediapipe33")
    assert sag["hip_offset"] > straight["hip_offset"] + 0.1
    assert sag["body_line"] < straight["body_line"] - 10

    facing_other_way = sagging.copy()
    facing_other_way[..., 0] = 1 - facing_other_way[..., 0]
    assert form_features(facing_other_way, "mediapipe33")["hip_offset"] == pytest.approx(sag["hip_offset"], abs=1e-4)


def test_committed_model_flags_sagging_hips(good_clip):
    model = FormModel.load(CHECKPOINT)
    good = form_verdict(good_clip, "mediapipe33", model)
    sagging = good_clip.copy()
    sagging[:, [_MP["left_hip"], _MP["right_hip"]], 1] += 0.08
    bad = form_verdict(sagging, "mediapipe33", model)
    assert good.verdict == GOOD and good.hint is None
    assert bad.verdict == CHECK and bad.probability_good < good.probability_good
    assert "hip" in bad.hint or "straight line" in bad.hint
    assert set(bad.angles) == set(FEATURES)


def test_no_person_and_bad_model_file_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no frame with a person"):
        form_features(np.full((20, 33, 3), np.nan, np.float32), "mediapipe33")
    (tmp_path / "model.json").write_text(json.dumps({"features": ["knee"]}))
    with pytest.raises(ValueError, match="not a push-up form model"):
        FormModel.load(tmp_path / "model.json")


def test_training_reproduces_the_committed_model_and_its_held_out_figures(shared_data, tmp_path):
    model = train_form_model(shared_data / ARCHIVE, seed=0)
    committed = json.loads(CHECKPOINT.read_text())
    assert model.metrics == committed["metrics"]
    assert np.allclose(model.coef, committed["coef"])
    assert model.metrics["train_clips"] + model.metrics["test_clips"] == 194
    assert model.metrics["test_accuracy"] >= 0.7 and model.metrics["cv5_accuracy_mean"] >= 0.7
    model.save(tmp_path / "form.json")
    features = form_features(np.load(shared_data / ARCHIVE)["push up/wrong44"][..., :3].astype(np.float32),
                             "mediapipe33")
    assert FormModel.load(tmp_path / "form.json").probability_good(features) == pytest.approx(
        model.probability_good(features))


def test_verdicts_on_held_out_real_videos(shared_data, mediapipe_pose):
    """Our own MediaPipe run on the videos of push-up clips that the committed model never saw."""
    from gym_gesture.pose.sequence import extract_clip

    model = FormModel.load(CHECKPOINT)
    held_out = [c for c in model.metrics["test_clip_ids"] if (shared_data / "videos" / f"push_up_{c}.mp4").is_file()]
    assert held_out
    right = 0
    for clip_id in held_out:
        sequence = extract_clip(shared_data / "videos" / f"push_up_{clip_id}.mp4", mediapipe_pose)
        verdict = form_verdict(sequence.keypoints, sequence.layout, model)
        right += verdict.verdict == (GOOD if clip_id.startswith("correct") else CHECK)
    assert right / len(held_out) >= 0.75, (right, held_out)
