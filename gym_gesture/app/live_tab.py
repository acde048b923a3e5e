"""The app's live tab: the webcam streams to the server, the page shows the skeleton, the exercise (or
"not sure"), the rep count and the form cue as the person trains, and the session's sets at the end.

Thin over `live.LiveSession`, one per browser session (kept in a `gr.State`, closed when the session
ends or the page goes away). Gradio's own streaming carries the frames (`gr.Image(sources="webcam",
streaming=True)` with `.stream`): the page sends the next frame once the previous answer is back, so
frames do not queue on the way in either. (`trigger_mode="always_last"` stops the stream after its first
frame in Gradio 6.31: the default is kept.)
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from ..analysis.prediction import NOT_SURE

if TYPE_CHECKING:
    from .pool import RecognizerPool
    from ..inference.live import LiveUpdate
    from ..analysis.summary import WorkoutSet

# Frames the browser sends a second: the shipped model's 10 fps pose rate, so no slot goes without one.
STREAM_EVERY_S = 0.1
# One live session is about a core at 10 fps; more at once share the machine's cores.
MAX_LIVE_SESSIONS = 4


def status_html(update: LiveUpdate | None) -> str:
    """Large enough to read from a couple of metres: the exercise or "not sure", the reps, the form cue."""
    if update is None:
        return "<div id='live-status'><span id='live-exercise'>start the webcam</span></div>"
    exercise = update.label if update.label and update.abstain is None else NOT_SURE
    reason = f"<div id='live-reason'>{html.escape(update.abstain)}</div>" if update.abstain else ""
    form = f"<div id='live-form'>{html.escape(update.form)}</div>" if update.form else ""
    return (f"<div id='live-status' style='font-size:2em'><b id='live-exercise'>{html.escape(exercise)}</b> · "
            f"<b id='live-reps'>{update.reps}</b> reps{form}{reason}</div>")


def sets_html(sets: list[WorkoutSet]) -> str:
    """The session's sets as a table, one row a set, the columns of the workout summary."""
    from dataclasses import asdict

    from ..analysis.summary import SUMMARY_COLUMNS

    if not sets:
        return "<p id='live-sets-empty'>No set yet.</p>"
    cell = (lambda value: "" if value is None else html.escape(str(value)))
    head = "".join(f"<th>{name}</th>" for name in SUMMARY_COLUMNS)
    rows = "".join("<tr>" + "".join(f"<td class='{name}'>{cell(value)}</td>" for name, value in asdict(item).items())
                   + "</tr>" for item in sets)
    return f"<table id='live-sets-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def build_live_tab(pool: RecognizerPool) -> None:
    """The live tab's components and events, inside the caller's `gr.Blocks` (and `gr.Tab`)."""
    import gradio as gr

    from ..inference.live import LiveSession

    def close(session: LiveSession | None) -> None:
        if session is not None:
            session.close()

    def step(frame, session: LiveSession | None):
        if frame is None:
            return gr.skip(), gr.skip(), session
        if session is None:
            session = LiveSession(pool.get("mediapipe"))
        update = session.push(frame, time.monotonic())
        return update.overlay, status_html(update), session

    def end(session: LiveSession | None):
        if session is None:
            return sets_html([]), None, status_html(None), None
        result = session.to_json()
        table = sets_html(session.summary())
        session.close()
        return table, result, status_html(None), None

    gr.Markdown("Stand where the camera sees your whole body and start the webcam: the exercise, the reps "
                "and form cues follow as you train. **End session** lists your sets.")
    session = gr.State(None, delete_callback=close)
    with gr.Row():
        webcam = gr.Image(sources=["webcam"], streaming=True, label="Webcam", elem_id="live-webcam")
        overlay = gr.Image(label="Skeleton", format="jpeg", interactive=False, elem_id="live-overlay")
    status = gr.HTML(status_html(None), elem_id="live-status-box")
    end_button = gr.Button("End session", elem_id="live-end")
    sets = gr.HTML(label="Sets", elem_id="live-sets")
    with gr.Accordion("JSON", open=False):
        details = gr.JSON(label="Session")
    webcam.stream(step, inputs=[webcam, session], outputs=[overlay, status, session], stream_every=STREAM_EVERY_S,
                  concurrency_limit=MAX_LIVE_SESSIONS, concurrency_id="live",
                  show_progress="hidden", api_name="live_frame")
    end_button.click(end, inputs=[session], outputs=[sets, details, status, session], api_name="live_end")
