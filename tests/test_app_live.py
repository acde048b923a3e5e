"""The app's live tab in headless Chromium, its webcam a fake camera playing a real clip over and over."""

from __future__ import annotations

import csv
import io
import re
import time
import urllib.parse
import urllib.request

import pytest

from conftest import FIXTURES, write_held_clip
from gym_gesture.analysis.sets import SET_REST_S
from gym_gesture.analysis.summary import SUMMARY_COLUMNS
from gym_gesture.cli import main
from gym_gesture.pose.video import write_y4m
from test_app import CHROMIUM, CHROMIUM_FLAGS, _browser_or_skip, app_url  # noqa: F401 (app_url: the fixture)

CLIP = FIXTURES / "squat_clip.mp4"  # one squat, standing at both ends
# The camera's clip: standing while the page starts, a set of 4 squats (the clip 4 times, 10 s), then standing
# still long enough for the set to end (SET_REST_S after its last rep) and End session to be clicked, with
# time to spare on a slow machine before Chromium's fake camera plays the file again.
HEAD_S, SQUATS, TAIL_S = 2.0, 4, SET_REST_S + 20.0


# After End session, this long without a frame sent shows the stream stopped (the page sends 10 a second).
QUIET_S = 3.0


@pytest.mark.browser
def test_live_tab_counts_the_reps_of_a_fake_camera_and_end_session_stops_it(app_url, model_dir, tmp_path):  # noqa: F811
    """The exercise and the reps as the person trains; the set over after a rest, End session stops the
    camera and the stream, and freezes the session's sets on the page, the same as its CSV download and as
    `predict --summary` on the camera's clip (issue #28); New session starts again."""
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    clip = write_held_clip(CLIP, tmp_path / "set_and_rest.mp4", loops=SQUATS, head_s=HEAD_S, tail_s=TAIL_S)
    camera = write_y4m(clip, tmp_path / "set_and_rest.y4m", fps=15)
    flags = [*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_context(permissions=["camera"]).new_page()
            frames_sent = []  # the times the page sent a frame to the stream
            page.on("request", lambda request: frames_sent.append(time.monotonic())
                    if re.search(r"/gradio_api/stream/\w+$", request.url) else None)
            page.goto(app_url)
            page.get_by_role("tab", name=re.compile("^Live")).click()
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#live-webcam button", has_text="Record").click()

            expect(page.locator("#live-exercise")).to_have_text("squat", timeout=60_000)
            expect(page.locator("#live-reps")).to_have_text(re.compile(r"^([2-9]|\d\d+)$"), timeout=60_000)
            shown = int(page.locator("#live-reps").inner_text())
            assert page.locator("#live-overlay img").count() == 1  # the skeleton view is there
            # The set ends SET_REST_S after its last rep: the count starts again, in the camera's still tail.
            expect(page.locator("#live-reps")).to_have_text("0", timeout=90_000)

            assert frames_sent, "no frame seen going to the stream"
            page.get_by_role("button", name="End session").click()
            first_row = page.locator("#live-sets-table tbody tr").first
            expect(first_row).to_be_visible(timeout=30_000)
            cells = first_row.locator("td").all_inner_texts()

            # The camera is off (the webcam left the page) and no frame goes out any more.
            expect(page.locator("#live-webcam")).to_have_count(0)
            expect(page.locator("#live-ended")).to_have_text("Session ended")
            ended = time.monotonic()
            table = page.locator("#live-sets-table").inner_text()
            time.sleep(QUIET_S)
            assert not [sent for sent in frames_sent if sent > ended], "frames sent after End session"
            # Frozen: the same sets, no new count behind them; those of the CSV download, headed in words.
            assert page.locator("#live-sets-table").inner_text() == table
            assert page.locator("#live-sets-table th").all_inner_texts()[:3] == ["Exercise", "Start (s)", "End (s)"]
            rows = page.locator("#live-sets-table tbody tr")
            shown_rows = [rows.nth(index).locator("td").all_inner_texts() for index in range(rows.count())]
            href = page.locator("#live-downloads a[href*='workout_summary.csv']").first.get_attribute("href")
            with urllib.request.urlopen(urllib.parse.urljoin(app_url, href), timeout=10) as response:
                downloaded = list(csv.DictReader(io.StringIO(response.read().decode())))
            assert [[row[column] for column in ("exercise", "start_s", "end_s", "reps")] for row in downloaded] \
                == [shown[:4] for shown in shown_rows]

            page.get_by_role("button", name="New session").click()
            expect(page.locator("#live-webcam")).to_have_count(1)
            expect(page.locator("#live-sets-empty")).to_be_visible()
            expect(page.get_by_role("button", name="End session")).to_be_visible()
        finally:
            browser.close()
    row = dict(zip(SUMMARY_COLUMNS, cells))
    assert row["exercise"] == "squat" and int(row["reps"]) >= shown >= 2
    # The sets of `predict --summary` on the clip the camera played: the same exercises, reps within one.
    assert main(["predict", str(camera), "--model", str(model_dir), "--summary", str(tmp_path / "predict.csv")]) == 0
    predicted = list(csv.DictReader((tmp_path / "predict.csv").open()))
    assert [set_row["exercise"] for set_row in predicted] == [live_row[0] for live_row in shown_rows] == ["squat"]
    assert all(abs(int(set_row["reps"]) - int(live_row[3])) <= 1 for set_row, live_row in zip(predicted, shown_rows))
