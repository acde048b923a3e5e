"""How the webcam's frames reach `LiveSession` from the browser: Gradio's streaming against fastrtc's WebRTC.

    python -m benchmarks.live_transport gradio
    VENV_WITH_FASTRTC/bin/python -m benchmarks.live_transport fastrtc   # fastrtc 0.0.34 needs gradio < 6

Serves one live view over the transport in this process, opens it in headless Chromium whose fake camera
loops the squat clip for `--seconds`, and reports: frames the server received and processed a second,
updates the page showed a second, and the server process's CPU seconds a second (on a 2-core machine
what the transport costs is taken from pose estimation).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import FIXTURE_CLIP  # noqa: E402
from gym_gesture.pose.video import write_y4m  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
COUNT_GRADIO_UPDATES = """() => { window.updates = 0; new MutationObserver((changes) => window.updates += changes.length)
    .observe(document.querySelector('#live-overlay'), {subtree: true, attributes: true, attributeFilter: ['src']}); }"""
COUNT_VIDEO_FRAMES = """() => { window.updates = 0; const video = document.querySelectorAll('video');
    const output = video[video.length - 1];
    const count = () => { window.updates++; output.requestVideoFrameCallback(count); };
    output.requestVideoFrameCallback(count); }"""


def gradio_demo(recognizer, sessions: list):
    import gradio as gr

    from gym_gesture.app.live_tab import status_html
    from gym_gesture.inference.live import LiveSession

    def step(frame):
        if not sessions:
            sessions.append(LiveSession(recognizer))
        update = sessions[0].push(frame, time.monotonic())
        return update.overlay, status_html(update)

    with gr.Blocks() as demo:
        webcam = gr.Image(sources=["webcam"], streaming=True, elem_id="live-webcam")
        overlay = gr.Image(format="jpeg", elem_id="live-overlay")
        status = gr.HTML(elem_id="live-status-box")
        webcam.stream(step, [webcam], [overlay, status], stream_every=0.1, concurrency_limit=4)
    return demo


def fastrtc_demo(recognizer, sessions: list):
    import gradio as gr
    from fastrtc import WebRTC

    from gym_gesture.inference.live import LiveSession

    def step(frame_bgr):
        if not sessions:
            sessions.append(LiveSession(recognizer))
        update = sessions[0].push(frame_bgr[..., ::-1].copy(), time.monotonic())
        return update.overlay[..., ::-1]

    with gr.Blocks() as demo:
        video = WebRTC(label="Live", mode="send-receive", modality="video", elem_id="live-webrtc")
        video.stream(fn=step, inputs=[video], outputs=[video], concurrency_limit=4)
    return demo


def measure(transport: str, seconds: float) -> dict:
    import gradio as gr
    from playwright.sync_api import sync_playwright

    from gym_gesture.inference.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained()
    sessions: list = []
    demo = (gradio_demo if transport == "gradio" else fastrtc_demo)(recognizer, sessions)
    _, url, _ = demo.queue().launch(prevent_thread_lock=True, server_port=None)
    camera = write_y4m(FIXTURE_CLIP, Path(tempfile.mkdtemp()) / "squat.y4m")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
             "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 1600}).new_page()
        page.goto(url)
        if transport == "gradio":
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#live-webcam button", has_text="Record").click()
        else:
            page.locator("button[aria-label='start stream']").dispatch_event("click")
        deadline = time.monotonic() + 60
        while not sessions and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # past the start
        page.evaluate(COUNT_GRADIO_UPDATES if transport == "gradio" else COUNT_VIDEO_FRAMES)
        session = sessions[0]
        received, processed = session.frames_received, session.frames_processed
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        received, processed = session.frames_received - received, session.frames_processed - processed
        updates = page.evaluate("() => window.updates")
        browser.close()
    demo.close()
    return {"transport": transport, "seconds": round(wall, 1), "frames_received_per_s": round(received / wall, 2),
            "frames_processed_per_s": round(processed / wall, 2), "page_updates_per_s": round(updates / wall, 2),
            "server_cpu_s_per_s": round(cpu / wall, 2), "gradio": gr.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transport", choices=("gradio", "fastrtc"))
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.transport, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
