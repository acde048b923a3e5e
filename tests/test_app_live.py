"""The app's live tab in headless Chromium, its webcam a fake camera playing a real clip over and over."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FIXTURES
from gym_gesture.analysis.summary import SUMMARY_COLUMNS
from gym_gesture.pose.video import write_y4m
from test_app import CHROMIUM, CHROMIUM_FLAGS, _browser_or_skip, app_url  # noqa: F401 (app_url: the fixture)

CLIP = FIXTURES / "squat_clip.mp4"  # one squat, standing at both ends: looped, a squat every 2.5 s
CLIP_SECONDS = 2.5


@pytest.mark.browser
def test_live_tab_shows_the_exercise_and_counts_the_reps_of_a_fake_camera(app_url, tmp_path):  # noqa: F811
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    camera = write_y4m(CLIP, tmp_path / "squat.y4m")
    flags = [*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_context(permissions=["camera"]).new_page()
            page.goto(app_url)
            page.get_by_role("tab", name=re.compile("^Live")).click()
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#live-webcam button", has_text="Record").click()

            expect(page.locator("#live-exercise")).to_have_text("squat", timeout=60_000)
            expect(page.locator("#live-reps")).to_have_text(re.compile(r"^([2-9]|\d\d+)$"), timeout=60_000)
            shown = int(page.locator("#live-reps").inner_text())
            assert page.locator("#live-overlay img").count() == 1  # the skeleton view is there

            page.get_by_role("button", name="End session").click()
            first_row = page.locator("#live-sets-table tbody tr").first
            expect(first_row).to_be_visible(timeout=30_000)
            cells = first_row.locator("td").all_inner_texts()
        finally:
            browser.close()
    row = dict(zip(SUMMARY_COLUMNS, cells))
    assert row["exercise"] == "squat"
    # One squat a loop of the clip, however many loops the session saw.
    reps, seconds = int(row["reps"]), float(row["end_s"]) - float(row["start_s"])
    assert reps >= shown >= 2
    assert abs(reps - seconds / CLIP_SECONDS) <= 1.5
