"""The Gradio app, served for real: its API through gradio_client and its page in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


from conftest import FIXTURES, REPO_ROOT, free_port
from gym_gesture.app import EXAMPLES_DIR

CLIP = FIXTURES / "squat_clip.mp4"
CLIP_LABEL = "squat"
FIRST_EXAMPLE, FIRST_EXAMPLE_LABEL = EXAMPLES_DIR / "plank.mp4", "plank"  # examples are sorted by name
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
START_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def app_url(model_dir, tmp_path_factory):
    """`python app.py` on a free port of 127.0.0.1, as a user starts it."""
    port = free_port()
    log = (tmp_path_factory.mktemp("app") / "app.log").open("w")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), GYM_GESTURE_MODEL=str(model_dir),
               GRADIO_ANALYTICS_ENABLED="False")
    server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"the app exited with {server.returncode}: {Path(log.name).read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the app did not answer within {START_TIMEOUT_S} s")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def expected(recognizer):
    """The package's own prediction on the clip: the app must show exactly this."""
    prediction = recognizer.predict(CLIP)
    assert prediction.label == CLIP_LABEL
    return prediction


def test_api_through_gradio_client(app_url, expected):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    overlay, label, timeline, summary, details = client.predict(handle_file(str(CLIP)), "mediapipe",
                                                                api_name="/predict")
    assert label["label"] == expected.label
    assert [c["label"] for c in label["confidences"]] == [item.label for item in expected.top_k]
    for shown, item in zip(label["confidences"], expected.top_k):
        assert shown["confidence"] == pytest.approx(item.score, abs=1e-3)
    assert details["windows"] == expected.to_json()["windows"]
    assert (details["frames"], details["detected_frames"]) == (expected.frames, expected.detected_frames)
    assert Path(overlay["video"] if isinstance(overlay, dict) else overlay).stat().st_size > 0
    assert len(timeline["data"]) == 3 * len(expected.windows)
    assert f"Person found in {expected.detected_frames} of {expected.frames} frames" in summary
    assert summary.startswith("**squat**, 1 rep.")  # one squat, counted by eye
    assert details["segments"] == expected.to_json()["segments"]


def test_api_refuses_an_unreadable_file_with_a_clear_message(app_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    not_a_video = tmp_path / "holiday.mp4"
    not_a_video.write_text("just some text\n" * 20)
    with pytest.raises(AppError, match="Cannot read this clip: not a readable video"):
        Client(app_url, verbose=False).predict(handle_file(str(not_a_video)), "mediapipe", api_name="/predict")


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


@pytest.mark.browser
def test_page_in_headless_chromium_shows_label_and_playable_overlay(app_url, expected):
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(app_url)
            page.locator("input[type=file]").first.set_input_files(str(CLIP))
            page.get_by_role("button", name="Recognise").click()

            label = page.locator("#label [data-testid='label-output-value']")
            expect(label).to_have_text(expected.label, timeout=120_000)
            expect(page.locator("#summary")).to_contain_text("Person found in", timeout=10_000)

            video = page.locator("#overlay video")
            expect(video).to_have_count(1, timeout=30_000)
            page.wait_for_function(
                "() => { const v = document.querySelector('#overlay video');"
                " return v && v.readyState >= 2 && v.duration > 0; }", timeout=30_000)
            state = video.evaluate("v => ({readyState: v.readyState, duration: v.duration, error: v.error,"
                                   " width: v.videoWidth})")
            assert state["error"] is None
            assert state["duration"] == pytest.approx(expected.frames / expected.fps, abs=0.2)
            assert state["width"] > 0
            # It plays: the clock moves.
            video.evaluate("v => { v.muted = true; return v.play(); }")
            page.wait_for_function("() => document.querySelector('#overlay video').currentTime > 0.2",
                                   timeout=15_000)
        finally:
            browser.close()


@pytest.mark.browser
def test_an_example_clip_runs_from_the_page(app_url, recognizer):
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expected_label = recognizer.predict(FIRST_EXAMPLE).label
    assert expected_label == FIRST_EXAMPLE_LABEL
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(app_url)
            page.locator("[data-testid='dataset-cell-0-0']").click()
            expect(page.locator("#clip video")).to_have_attribute("src", re.compile(r"plank\.mp4$"), timeout=30_000)
            page.get_by_role("button", name="Recognise").click()
            expect(page.locator("#label [data-testid='label-output-value']")).to_have_text(expected_label,
                                                                                        timeout=120_000)
        finally:
            browser.close()


@pytest.mark.parametrize("space_id", ["someone/gym-gesture-demo", None])
def test_the_mmpose_installer_runs_only_on_a_gpu_space(space_id, monkeypatch):
    import torch

    from gym_gesture import app

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
