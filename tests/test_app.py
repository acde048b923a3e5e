"""The Gradio app, served for real: its API through gradio_client and its page in headless Chromium."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest


from benchmarks.run import served_app
from conftest import FIXTURES, REPO_ROOT
from gym_gesture.app.main import EXAMPLES_DIR
from gym_gesture.pose import DEFAULT_BACKEND

CLIP = FIXTURES / "squat_clip.mp4"
CLIP_LABEL = "squat"
FIRST_EXAMPLE, FIRST_EXAMPLE_LABEL = EXAMPLES_DIR / "plank.mp4", "plank"  # examples are sorted by name
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
START_TIMEOUT_S = 180
# What each app the `app_url` fixture started printed until it answered, by its URL.
STARTUP_OUTPUT: dict[str, str] = {}


@pytest.fixture(scope="module")
def app_url(model_dir, tmp_path_factory):
    """`python app.py` on a free port of 127.0.0.1, as a user starts it."""
    scratch = tmp_path_factory.mktemp("app")
    with served_app(str(model_dir), scratch, timeout=START_TIMEOUT_S) as (url, _):
        STARTUP_OUTPUT[url] = (scratch / "app.log").read_text()
        yield url


@pytest.fixture(scope="module")
def expected(recognizer):
    """The package's own prediction on the clip: the app must show exactly this."""
    prediction = recognizer.predict(CLIP)
    assert prediction.exercise == CLIP_LABEL
    return prediction


def test_the_app_starts_without_warnings_or_loading_bars(app_url):
    """Nothing on stderr at a clean start: no Gradio warning, no "Loading weights" bar of transformers."""
    startup = STARTUP_OUTPUT[app_url]
    assert not re.search(r"warn|loading weights|\d+%\|", startup, re.IGNORECASE), startup


def test_api_through_gradio_client(app_url, expected):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    verdict, overlay, ranking, timeline, sets, downloads, details, raw = client.predict(
        handle_file(str(CLIP)), DEFAULT_BACKEND, api_name="/predict")
    assert 'data-verdict="exercise"' in verdict and '<div class="headline">squat</div>' in verdict
    assert '<div class="detail">1 rep</div>' in verdict  # one squat, counted by eye
    assert ranking["label"] == expected.label
    assert [c["label"] for c in ranking["confidences"]] == [item.label for item in expected.top_k]
    for shown, item in zip(ranking["confidences"], expected.top_k):
        assert shown["confidence"] == pytest.approx(item.score, abs=1e-3)
    assert raw["windows"] == expected.to_json()["windows"]
    assert raw["segments"] == expected.to_json()["segments"]
    assert (raw["verdict"], raw["exercise"]) == ("exercise", "squat")
    assert (raw["frames"], raw["detected_frames"]) == (expected.frames, expected.detected_frames)
    assert Path(overlay["value"]).stat().st_size > 0 and Path(overlay["subtitles"]).read_text().startswith("WEBVTT")
    assert f'data-start="0" data-end="{expected.duration:.3f}"' in timeline
    assert [row[0] for row in sets["data"]] == ["squat"]
    assert sorted(Path(path).suffix for path in downloads) == [".csv", ".json"]
    assert f"Person found in {expected.detected_frames} of {expected.frames} frames" in details


def test_api_refuses_an_unreadable_file_with_a_clear_message(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    not_a_video = tmp_path / "holiday.mp4"
    not_a_video.write_text("just some text\n" * 20)
    with pytest.raises(AppError, match="Cannot read this clip: not a readable video"):
        Client(app_url, verbose=False).predict(handle_file(str(not_a_video)), DEFAULT_BACKEND, api_name="/predict")


def _browser_or_skip():
    """Playwright on Debian's Chromium; in CI a missing piece is a failure, elsewhere a skip."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if not Path(CHROMIUM).exists():
        missing.append("Chromium (apt-get install -y chromium)")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def page(app_url):
    """One headless Chromium page on the app for the module's browser tests."""
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(app_url)
            yield page
        finally:
            browser.close()


def _recognize(page, clip: Path) -> None:
    """Upload `clip` (clearing the last one) and press Recognise, as a person does; waits for the result."""
    from playwright.sync_api import expect

    clear = page.locator("#clip button[aria-label='Clear']")
    if clear.count():
        clear.click()
    page.locator("#clip input[type=file]").set_input_files(str(clip))
    expect(page.locator("#clip video")).to_have_count(1, timeout=30_000)
    page.get_by_role("button", name="Recognise").click()
    _wait_for_the_result(page)


def _wait_for_the_result(page) -> None:
    """Gradio marks the outputs pending while the request runs."""
    from playwright.sync_api import expect

    expect(page.locator("#verdict .pending")).to_have_count(1, timeout=10_000)
    expect(page.locator("#verdict .pending")).to_have_count(0, timeout=120_000)


def _summary_rows(page, app_url) -> list[dict]:
    """The rows of the CSV behind the page's download link, fetched as the browser would."""
    link = page.locator("#downloads a[href*='workout_summary.csv']").first
    href = link.get_attribute("href")
    with urllib.request.urlopen(urllib.parse.urljoin(app_url, href), timeout=10) as response:
        return list(csv.DictReader(io.StringIO(response.read().decode())))


# Real clips of each verdict kind: one the model knows, an exercise it does not know (a deadlift, taken in
# turn for a squat and a push up), a person walking, and a clip where MediaPipe finds nobody.
VERDICT_CLIPS = {
    "exercise": (None, CLIP, "Squat", "1 rep", ["squat"]),
    "not sure": ("unknown/wall push up/quwatulquloob_AI-Exercise-and-Yoga-trainer__wall_pushups.mp4", None, "Not sure",
                 "the model leans to", []),
    "not an exercise": (None, EXAMPLES_DIR / "walking.mp4", "Not an exercise I know", "Walking, not an exercise",
                        []),
    "no person": ("videos/push_up_correct71.mp4", None, "No person", "Nobody found", []),
}


@pytest.mark.browser
@pytest.mark.parametrize("verdict", list(VERDICT_CLIPS))
def test_the_page_shows_each_verdict_kind_first(verdict, page, app_url, request):
    """What a person sees: the headline in plain words, the timeline over the whole clip, the summary's
    rows (a set only where an exercise is named)."""
    from playwright.sync_api import expect

    from gym_gesture.pose.video import probe

    shared, committed, headline, detail, exercises = VERDICT_CLIPS[verdict]
    clip = request.getfixturevalue("shared_data") / shared if shared else committed
    _recognize(page, clip)
    expect(page.locator("#verdict .headline")).to_have_text(headline.lower() if verdict == "exercise" else headline)
    expect(page.locator("#verdict [data-verdict]")).to_have_attribute("data-verdict", verdict)
    expect(page.locator("#verdict .detail")).to_contain_text(detail)
    # The headline shows capitalised, as a title.
    assert page.locator("#verdict .headline").evaluate("e => getComputedStyle(e, '::first-letter').textTransform") \
        == "uppercase"
    timeline = page.locator("#timeline svg.timeline")
    assert float(timeline.get_attribute("data-start")) == 0
    assert float(timeline.get_attribute("data-end")) == pytest.approx(probe(clip).duration, abs=0.15)
    bands = page.locator("#timeline g.band")
    for index in range(bands.count()):
        band = bands.nth(index)
        assert 0 <= float(band.get_attribute("data-start")) < float(band.get_attribute("data-end")) \
            <= float(timeline.get_attribute("data-end")) + 1e-3
        # Segments never name an exercise the clip does not.
        assert (band.get_attribute("data-verdict") == "exercise") == (verdict == "exercise")
    assert [row["exercise"] for row in _summary_rows(page, app_url)] == exercises
    _assert_one_verdict_in_plain_words(page, verdict, request.getfixturevalue("recognizer").thresholds)


def _assert_one_verdict_in_plain_words(page, verdict: str, thresholds) -> None:
    """The ranking never answers against the verdict: captioned the model's ranking when an exercise is
    named, "Closest: ..." when none is, absent with nobody found. No threshold and no measurement the
    verdict was decided on shows outside the details toggle, which holds them."""
    from playwright.sync_api import expect

    caption = page.locator("#ranking [data-testid='block-label']")
    bars = page.locator("#ranking .confidence-set")
    if verdict == "exercise":
        expect(caption).to_have_text("The model's ranking")
    elif verdict == "no person":
        expect(bars).to_have_count(0)
    else:
        top = bars.first.locator("dt").inner_text()
        expect(caption).to_have_text(f"Closest: {top}")
    # The ranking has no heading of its own: the verdict is the one answer on the page.
    expect(page.locator("#ranking .output-class")).to_have_count(0)

    details = page.locator("#details-toggle")
    visible = page.locator("body").inner_text()
    numbers = {f"{value:.{digits}f}" for value in (thresholds.min_probability, thresholds.min_motion,
                                                   thresholds.min_walk_speed, thresholds.min_detection_rate)
               for digits in (2, 3)}
    assert not [number for number in numbers if number in visible], visible
    assert not re.search(r"\d\s*(<|>=?|≥)\s*\d|motion energy|torso length|Why none is named", visible), visible
    details.get_by_text("Details", exact=True).click()
    if verdict != "no person":  # nobody in any frame: nothing was measured
        expect(page.locator("#details")).to_contain_text(f"top probability {thresholds.min_probability:.2f}")
    if verdict in ("not sure", "not an exercise"):
        expect(page.locator("#details")).to_contain_text(re.compile(r"Why none is named: .*\d\.\d+"))
    details.get_by_text("Details", exact=True).click()


@pytest.mark.browser
def test_overlay_plays_with_its_caption_below_the_label(page, expected):
    _recognize(page, CLIP)
    video = page.locator("#overlay video")
    page.wait_for_function(
        "() => { const v = document.querySelector('#overlay video');"
        " return v && v.readyState >= 2 && v.duration > 0; }", timeout=30_000)
    state = video.evaluate("v => ({duration: v.duration, error: v.error, width: v.videoWidth})")
    assert state["error"] is None and state["width"] > 0
    assert state["duration"] == pytest.approx(expected.duration, abs=0.2)
    # The caption is a track of the player, the verdict of the segment playing.
    page.wait_for_function("() => { const v = document.querySelector('#overlay video');"
                           " return v.textTracks.length && v.textTracks[0].cues && v.textTracks[0].cues.length; }",
                           timeout=15_000)
    assert video.evaluate("v => v.textTracks[0].cues[0].text") == "squat, 1 rep"
    # It plays: the clock moves.
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#overlay video').currentTime > 0.2", timeout=15_000)


@pytest.mark.browser
def test_the_page_says_what_the_model_knows_and_names_its_examples(page, recognizer):
    from playwright.sync_api import expect

    expect(page.locator("#intro")).to_contain_text(f"It knows {len(recognizer.labels)} exercises: "
                                                   + ", ".join(recognizer.labels))
    for name in ("plank", "russian twist", "squat", "walking"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    # One pose backend here (no GPU): no dropdown offering one choice.
    expect(page.get_by_label("Pose backend")).to_have_count(0)


@pytest.mark.browser
def test_an_example_clip_runs_from_the_page(page, recognizer):
    from playwright.sync_api import expect

    assert recognizer.predict(FIRST_EXAMPLE).exercise == FIRST_EXAMPLE_LABEL
    page.get_by_role("button", name="plank", exact=True).click()
    expect(page.locator("#clip video")).to_have_attribute("src", re.compile(r"plank\.mp4$"), timeout=30_000)
    page.get_by_role("button", name="Recognise").click()
    _wait_for_the_result(page)
    expect(page.locator("#verdict .headline")).to_have_text(FIRST_EXAMPLE_LABEL)
    expect(page.locator("#verdict .detail")).to_contain_text("held")  # a hold, not "0 reps"


@pytest.mark.browser
def test_the_model_picker_switches_the_model_and_lists_its_exercises(page, model_dir):
    """Another shipped model picked: its exercises under the picker, and the next clip recognized with it."""
    from playwright.sync_api import expect

    from gym_gesture.inference.recognizer import SHIPPED_MODELS, Recognizer

    other = next(name for name in SHIPPED_MODELS if name != model_dir.name)
    labels = Recognizer.from_pretrained(other, backend=None).labels
    try:
        _pick_model(page, other)
        expect(page.locator("#intro")).to_contain_text(f"It knows {len(labels)} exercises: " + ", ".join(labels),
                                                       timeout=60_000)
        _recognize(page, EXAMPLES_DIR / "walking.mp4")
        page.locator("#details-toggle").get_by_text("Details", exact=True).click()
        expect(page.locator("#details")).to_contain_text(f"Thresholds of {other}:")
        page.locator("#details-toggle").get_by_text("Details", exact=True).click()
    finally:
        _pick_model(page, model_dir.name)


def _pick_model(page, name: str) -> None:
    page.locator("#model input").click()
    page.get_by_role("option", name=name, exact=True).click()


@pytest.mark.parametrize("space_id", ["someone/gym-gesture-demo", None])
def test_the_mmpose_installer_runs_only_on_a_gpu_space(space_id, monkeypatch):
    import torch

    from gym_gesture.app import main as app

    runs = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(app.subprocess, "run", lambda args, env: runs.append((args, env["PYTHON"])) or
                        subprocess.CompletedProcess(args, 0))
    if space_id:
        monkeypatch.setenv("SPACE_ID", space_id)
    else:
        monkeypatch.delenv("SPACE_ID", raising=False)
    app.install_mmpose_on_gpu_space()

    # MMPose is not installed here, so on a Space it is installed with the app's own Python.
    assert runs == ([(["bash", str(REPO_ROOT / "install_mmpose.sh")], sys.executable)] if space_id else [])
