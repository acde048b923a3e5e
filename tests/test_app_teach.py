"""The app's "teach it" tab: a name and a clip in, the session's model names the new exercise and can be
downloaded; the tab is mounted in the app."""

from __future__ import annotations

import zipfile

import pytest

from conftest import FIXTURES
from gym_gesture.app.teach_tab import teach, try_clip
from gym_gesture.core.errors import GymGestureError

CLIP = FIXTURES / "squat_clip.mp4"


@pytest.fixture(scope="module")
def pool(model_dir):
    from gym_gesture.app.pool import RecognizerPool

    pool = RecognizerPool(str(model_dir), max_duration=60.0)
    yield pool
    pool.get("mediapipe").close()


def test_taught_exercise_is_recognised_in_the_session_and_downloads_as_a_model(pool, tmp_path):
    folder, archive, summary = teach(pool, "goblet squat", [str(CLIP)], None, tmp_path)
    assert "Learnt **goblet squat** from 1 clip(s)" in summary
    scores, verdict = try_clip(pool, str(CLIP), folder)
    assert max(scores, key=scores.get) == "goblet squat" and verdict.startswith("**goblet squat**")
    # The app's own model (no session model) does not know it.
    before, _ = try_clip(pool, str(CLIP), None)
    assert "goblet squat" not in before
    with zipfile.ZipFile(archive) as zipped:
        assert {"config.json", "model.safetensors", "enrolment.json"} <= set(zipped.namelist())
    # Teaching again adds one more exercise on top of the session's model.
    second, _, _ = teach(pool, "wall sit", [str(CLIP)], folder, tmp_path)
    assert list(try_clip(pool, str(CLIP), second)[0])[-2:] == ["goblet squat", "wall sit"]


@pytest.mark.parametrize(("name", "clips", "message"), [
    ("", [str(CLIP)], "name"), ("lunge", [], "1 to 5 clips"), ("lunge", [str(CLIP)] * 6, "1 to 5 clips")])
def test_teaching_refuses_a_missing_name_or_a_wrong_number_of_clips(pool, tmp_path, name, clips, message):
    with pytest.raises(GymGestureError, match=message):
        teach(pool, name, clips, None, tmp_path)


def test_the_tab_is_mounted_in_the_app(pool):
    from gym_gesture.app.main import build_demo

    demo = build_demo(pool, backends=["mediapipe"])
    assert {"predict", "teach", "try_taught"} <= {dependency.get("api_name") for dependency in demo.config["dependencies"]}
