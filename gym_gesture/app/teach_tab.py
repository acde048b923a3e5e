"""The app's "teach it" tab: a name and 1 to 5 clips of a new exercise, enrolled into the app's model
(`enroll.enroll`, as `gym-gesture enroll` does) for this browser session only; then clips are recognised
with it in the tab, and the enrolled model folder can be downloaded as a zip. Teaching again adds one more
exercise on top. The clips are posed by the app's own recognizer (`Recognizer.extract`), one clip at a
time with the main tab's requests, and classified by the session's model (`Recognizer.recognize_sequence`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import GymGestureError

if TYPE_CHECKING:
    from .pool import RecognizerPool

MAX_CLIPS = 5


def _session_recognizer(pool: RecognizerPool, folder: str | None):
    """A recognizer of pose sequences on the session's enrolled model (the app's model before any)."""
    from ..inference.recognizer import Recognizer

    base = pool.get("mediapipe")
    if folder is None:
        return base
    # The folder's own calibration: the base model's, with the enrolled exercises' motion thresholds.
    return Recognizer.from_pretrained(folder, backend=None, form_model=base.form_model)


def teach(pool: RecognizerPool, name: str, clips: list[str] | None, folder: str | None, work_dir: Path,
          backend: str = "mediapipe") -> tuple[str, str, str]:
    """Enrol `name` from the uploaded `clips` on top of the session's model `folder` (None: the app's model).
    Returns the new folder, its zip and a summary in Markdown; GymGestureError for what the user can fix."""
    from ..training.enroll import EnrolmentClip, enroll

    clips = clips or []
    if not name or not name.strip():
        raise GymGestureError("Give the new exercise a name.")
    if not 1 <= len(clips) <= MAX_CLIPS:
        raise GymGestureError(f"Upload 1 to {MAX_CLIPS} clips of the new exercise, got {len(clips)}.")
    recognizer = pool.get(backend)
    enrolment = []
    for path in clips:
        sequence = recognizer.extract(path)
        enrolment.append(EnrolmentClip(Path(path).name, sequence.model_coordinates(recognizer.config.num_channels),
                                       sequence.layout, sequence.fps))
    out = Path(tempfile.mkdtemp(prefix="enrolled-", dir=work_dir))
    record = enroll(folder or pool.model_name, name, enrolment, out / "model")
    archive = shutil.make_archive(str(out / "gym-gesture-enrolled"), "zip", out / "model")
    skipped = (f" No window in {', '.join(record['skipped_clips'])} (too short, or nobody found)."
               if record["skipped_clips"] else "")
    summary = (f"Learnt **{record['label']}** from {len(record['clips'])} clip(s) ({record['windows']} windows) in "
               f"{record['seconds']:.1f} s; similarity threshold {record['threshold']:.3f} "
               f"({record['threshold_from']}).{skipped} Try a clip below, or download the model.")
    if record["warning"]:
        summary += f"\n\n**Warning:** {record['warning']}."
    return str(out / "model"), archive, summary


def try_clip(pool: RecognizerPool, video: str | None, folder: str | None, backend: str = "mediapipe") -> tuple[dict, str]:
    """The session model's top classes and verdict on one clip."""
    if not video:
        raise GymGestureError("Upload a clip to try.")
    posing = pool.get(backend)
    sequence = posing.extract(video)
    recognizer = _session_recognizer(pool, folder)
    result = recognizer.recognize_sequence(sequence.model_coordinates(recognizer.config.num_channels),
                                           sequence.layout, sequence.fps, sequence.detected)
    if not len(result.windows):
        raise GymGestureError("No person found in most frames: film the whole body for 3 s or more.")
    labels = recognizer.labels
    scores = {labels[i]: float(score) for i, score in enumerate(result.clip_scores)}
    best = max(scores, key=scores.get)
    reps = sum(segment.reps for segment in result.segments if segment.exercise == best)
    verdict = (f"**No exercise named**: {result.abstain}." if result.abstain
               else f"**{best}**, {reps} rep{'s' if reps != 1 else ''}.")
    return scores, verdict


def build_teach_tab(pool: RecognizerPool) -> None:
    """The "teach it" tab's components and events, inside the caller's `gr.Blocks` (and `gr.Tab`)."""
    import gradio as gr

    work_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-teach-"))

    def on_teach(name, clips, folder):
        try:
            new_folder, archive, summary = teach(pool, name, clips, folder, work_dir)
        except (GymGestureError, ValueError, OSError) as error:
            raise gr.Error(str(error)) from error
        return new_folder, archive, summary

    def on_try(video, folder):
        try:
            return try_clip(pool, video, folder)
        except (GymGestureError, ValueError, OSError) as error:
            raise gr.Error(str(error)) from error

    gr.Markdown(
        "Name an exercise the model does not know and upload 1 to 5 clips of it (3 or more seconds each, "
        "ideally from different people or angles). The model learns it in seconds, without retraining, for "
        "this session; download the model to keep it (`gym-gesture predict clip.mp4 --model FOLDER`).")
    folder = gr.State(None)
    with gr.Row():
        with gr.Column():
            name = gr.Textbox(label="Exercise name", placeholder="e.g. front raise", elem_id="teach-name")
            clips = gr.File(label=f"1 to {MAX_CLIPS} clips", file_count="multiple", file_types=["video"],
                            elem_id="teach-clips")
            teach_button = gr.Button("Teach it", variant="primary")
        with gr.Column():
            summary = gr.Markdown(elem_id="teach-summary")
            download = gr.File(label="Enrolled model (zip)", interactive=False)
    with gr.Row():
        with gr.Column():
            video = gr.Video(label="Try a clip", sources=["upload", "webcam"], format=None, include_audio=True)
            try_button = gr.Button("Recognise with the taught model")
        with gr.Column():
            label = gr.Label(label="Exercise", num_top_classes=5)
            verdict = gr.Markdown(elem_id="teach-verdict")
    teach_button.click(on_teach, inputs=[name, clips, folder], outputs=[folder, download, summary],
                       api_name="teach")
    try_button.click(on_try, inputs=[video, folder], outputs=[label, verdict], api_name="try_taught")
