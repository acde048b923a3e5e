"""The app's "teach it" tab: a name and a clip in, the session's model names the new exercise and can be
downloaded; the tab is mounted in the app."""

from __future__ import annotations

import re
import shutil
import zipfile

import pytest

from conftest import FIXTURES
from gym_gesture.app.teach_tab import teach, try_clip
from gym_gesture.core.errors import GymGestureError
from gym_gesture.core.paths import EXAMPLES_DIR
from gym_gesture.pose import DEFAULT_BACKEND

CLIP = FIXTURES / "squat_clip.mp4"
WALKING = EXAMPLES_DIR / "walking.mp4"


@pytest.fixture(scope="module")
def pool(model_dir):
    from gym_gesture.app.pool import RecognizerPool

    pool = RecognizerPool(str(model_dir), max_duration=60.0)
    yield pool
    pool.get(DEFAULT_BACKEND).close()


def test_taught_exercise_is_recognized_in_the_session_and_downloads_as_a_model(pool, tmp_path):
    folder, archive, summary = teach(pool, "goblet squat", [str(CLIP)], None, tmp_path)
    assert "Learnt **goblet squat** from 1 clip in" in summary
    # The enrollment's numbers are behind the details toggle, not in what is read first.
    said, details = summary.split("<details>")
    assert "threshold" not in said and "similarity threshold" in details.lower()
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
    # Someone walking: which non-verdict in plain words, and the class it leans to only as the closest.
    scores, verdict = try_clip(pool, str(WALKING), second)
    assert verdict.startswith("**Not an exercise I know**: Walking")
    assert verdict.endswith(f"Closest: {max(scores, key=scores.get)}.")
    assert not re.search(r"\d", verdict), verdict


def test_a_taught_model_unzipped_into_the_taught_folder_is_offered_by_the_picker(pool, tmp_path, monkeypatch):
    from gym_gesture.app.pool import TAUGHT_MODELS_ENV

    _, archive, _ = teach(pool, "goblet squat", [str(CLIP)], None, tmp_path)
    taught = tmp_path / "taught"
    shutil.unpack_archive(archive, taught / "goblet-squat")
    (taught / "notes").mkdir()  # no model: not offered
    monkeypatch.setenv(TAUGHT_MODELS_ENV, str(taught))
    choices = pool.choices()
    assert pool.default_model in [key for _, key in choices]
    assert ("goblet-squat (taught)", str(taught / "goblet-squat")) in choices
    assert all("notes" not in key for _, key in choices)
    picked = pool.get(DEFAULT_BACKEND, str(taught / "goblet-squat"))
    assert picked.labels[-1] == "goblet squat" and "goblet squat" not in pool.get(DEFAULT_BACKEND).labels
    picked.close()


@pytest.mark.parametrize(("name", "clips", "message"), [
    ("", [str(CLIP)], "name"), ("lunge", [], "1 to 5 clips"), ("lunge", [str(CLIP)] * 6, "1 to 5 clips")])
def test_teaching_refuses_a_missing_name_or_a_wrong_number_of_clips(pool, tmp_path, name, clips, message):
    with pytest.raises(GymGestureError, match=message):
        teach(pool, name, clips, None, tmp_path)


def test_the_tab_is_mounted_in_the_app(pool):
    from gym_gesture.app.main import build_demo

    demo = build_demo(pool, backends=[DEFAULT_BACKEND])
    assert {"predict", "teach", "try_taught"} <= {dependency.get("api_name") for dependency in demo.config["dependencies"]}
