"""The app's live tab: the webcam streams to the server, the page shows the skeleton, the exercise (or plainly
which non-verdict, and what to do), the rep count and the form cue as the person trains. End session stops
the camera and the stream, and freezes the session's sets, with their CSV and JSON downloads; New session
starts the camera again.

Thin over `live.LiveSession`, one per browser session (kept in a `gr.State`, closed when the session
ends or the page goes away), on the model picked above the tabs. Gradio's own streaming carries the frames
(`gr.Image(sources="webcam", streaming=True)` with `.stream`): the page sends the next frame once the
previous answer is back, so frames do not queue on the way in either. (`trigger_mode="always_last"` stops
the stream after its first frame in Gradio 6.31: the default is kept.)
"""

from __future__ import annotations

import html
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..render.wording import count, live_headline, plain_reason, plural
from ..pose import DEFAULT_BACKEND
from .workout import sets_html, summary_files

if TYPE_CHECKING:
    import gradio as gr

    from .pool import RecognizerPool
    from ..inference.live import LiveUpdate

# Frames the browser sends a second: the shipped model's 10 fps pose rate, so no slot goes without one.
STREAM_EVERY_S = 0.1
# One live session is about a core at 10 fps; more at once share the machine's cores.
MAX_LIVE_SESSIONS = 4


def status_html(update: LiveUpdate | None) -> str:
    """Large enough to read from a couple of metres: the exercise or which non-verdict, the reps, the form cue,
    and when no exercise is named, what to do."""
    if update is None:
        return "<div id='live-status'><span id='live-exercise'>start the webcam</span></div>"
    reason = f"<div id='live-reason'>{html.escape(plain_reason(update.abstain))}</div>" if update.abstain else ""
    form = f"<div id='live-form'>{html.escape(update.form)}</div>" if update.form else ""
    return (f"<div id='live-status' style='font-size:2em'><b id='live-exercise'>"
            f"{html.escape(live_headline(update.label, update.abstain))}</b> · <b id='live-reps'>{update.reps}</b> "
            f"{plural(update.reps, 'rep')}{form}{reason}</div>")


def ended_html(sets: int) -> str:
    """The status once the session ended."""
    return (f"<div id='live-status'><b id='live-ended'>Session ended</b>: {count(sets, 'set')}. "
            "New session starts the camera again.</div>")


def build_live_tab(pool: RecognizerPool, model: gr.Dropdown) -> None:
    """The live tab's components and events, inside the caller's `gr.Blocks` (and `gr.Tab`); `model` is the
    app's model picker."""
    import gradio as gr

    from ..analysis.prediction import Segment
    from ..analysis.summary import WorkoutSet
    from ..inference.live import LiveSession

    work_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-live-"))

    def close(session: LiveSession | None) -> None:
        if session is not None:
            session.close()

    def step(frame, session: LiveSession | None, model_key: str | None):
        if frame is None:
            return gr.skip(), gr.skip(), session
        if session is None:
            session = LiveSession(pool.get(DEFAULT_BACKEND, model_key))
        update = session.push(frame, time.monotonic())
        return update.overlay, status_html(update), session

    def end(session: LiveSession | None):
        """The camera off, the session's sets frozen on the page and written for download."""
        result, sets, segments = None, [], []
        if session is not None:
            result = session.to_json()
            sets = [WorkoutSet(**item) for item in result["sets"]]
            segments = [Segment.from_json(item) for item in result["segments"]]
            session.close()
        files = summary_files(sets, Path(tempfile.mkdtemp(dir=work_dir)))
        return (gr.Image(visible=False), ended_html(len(sets)), sets_html(sets, segments), files, result, None,
                gr.Button(visible=False), gr.Button(visible=True))

    def new_session():
        return (gr.Image(None, visible=True), status_html(None), sets_html([], []), None, None, None,
                gr.Button(visible=True), gr.Button(visible=False))

    gr.Markdown("Stand where the camera sees your whole body and start the webcam: the exercise, the reps "
                "and form cues follow as you train. **End session** stops the camera and lists your sets, to "
                "download as CSV or JSON.")
    session = gr.State(None, delete_callback=close)
    with gr.Row():
        webcam = gr.Image(sources=["webcam"], streaming=True, label="Webcam", elem_id="live-webcam")
        overlay = gr.Image(label="Skeleton", format="jpeg", interactive=False, elem_id="live-overlay")
    status = gr.HTML(status_html(None), elem_id="live-status-box")
    with gr.Row():
        end_button = gr.Button("End session", elem_id="live-end")
        new_button = gr.Button("New session", elem_id="live-new", visible=False)
    sets = gr.HTML(sets_html([], []), elem_id="live-sets")
    downloads = gr.File(label="Download the sets (CSV, JSON)", file_count="multiple", elem_id="live-downloads",
                        interactive=False)
    with gr.Accordion("Details", open=False):
        details = gr.JSON(label="Session (JSON)")
    streaming = webcam.stream(step, inputs=[webcam, session, model], outputs=[overlay, status, session],
                              stream_every=STREAM_EVERY_S, concurrency_limit=MAX_LIVE_SESSIONS, concurrency_id="live",
                              show_progress="hidden", api_name="live_frame")
    # The webcam leaves the page, which stops its camera; the stream is cancelled, so no frame in flight
    # starts a new session behind the frozen summary.
    end_button.click(end, inputs=[session],
                     outputs=[webcam, status, sets, downloads, details, session, end_button, new_button],
                     cancels=[streaming], api_name="live_end")
    new_button.click(new_session, outputs=[webcam, status, sets, downloads, details, session, end_button, new_button],
                     api_visibility="private")
