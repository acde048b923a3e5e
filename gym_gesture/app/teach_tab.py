"""The app's "teach it" tab: a name and 1 to 5 clips of a new exercise, enrolled into the model picked above
the tabs (`enroll.enroll`, as `gym-gesture enroll` does) for this browser session only; then clips are
recognized with it in the tab, and the enrolled model folder can be downloaded as a zip (unzipped into the
picker's folder, `pool.taught_models_dir`, the app offers it). Teaching again adds one more exercise on
top. The clips are posed by the app's own recognizer (`Recognizer.extract`), one clip at a time with the
main tab's requests, and classified by the session's model (`Recognizer.recognize_sequence`). The page
says what was learned and how to use it; the numbers of the enrollment are behind a details toggle.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ..analysis.prediction import VERDICT_HEADLINES
from ..core.errors import GymGestureError
from ..render.wording import RANKING_CAPTION, count, plain_reason, sentence
from ..pose import DEFAULT_BACKEND
from .pool import taught_models_dir

if TYPE_CHECKING:
    import gradio as gr

    from .pool import RecognizerPool

MAX_CLIPS = 5


def _session_recognizer(pool: RecognizerPool, folder: str | None, model: str | None):
    """A recognizer of pose sequences on the session's enrolled model (the app's `model` before any)."""
    from ..inference.recognizer import Recognizer

    base = pool.get(DEFAULT_BACKEND, model)
    if folder is None:
        return base
    # The folder's own calibration: the base model's, with the enrolled exercises' motion thresholds.
    return Recognizer.from_pretrained(folder, backend=None, form_model=base.form_model)


def teach(pool: RecognizerPool, name: str, clips: list[str] | None, folder: str | None, work_dir: Path,
          backend: str = DEFAULT_BACKEND, model: str | None = None) -> tuple[str, str, str]:
    """Enroll `name` from the uploaded `clips` on top of the session's model `folder` (None: the app's `model`,
    a `pool.model_key`; None: its default). Returns the new folder, its zip and what was learned in Markdown,
    the enrollment's numbers behind a details toggle; GymGestureError for what the user can fix."""
    from ..training.enroll import EnrollmentClip, enroll

    started = time.perf_counter()
    clips = clips or []
    if not name or not name.strip():
        raise GymGestureError("Give the new exercise a name.")
    if not 1 <= len(clips) <= MAX_CLIPS:
        raise GymGestureError(f"Upload 1 to {MAX_CLIPS} clips of the new exercise, got {len(clips)}.")
    recognizer = pool.get(backend, model)  # the picked model's frame rate and channels
    enrollment = []
    for path in clips:
        sequence = recognizer.extract(path)
        enrollment.append(EnrollmentClip(Path(path).name, sequence.model_coordinates(recognizer.config.num_channels),
                                       sequence.layout, sequence.fps, sequence.frame_size))
    out = Path(tempfile.mkdtemp(prefix="enrolled-", dir=work_dir))
    record = enroll(folder or recognizer.model_name, name, enrollment, out / "model")
    archive = shutil.make_archive(str(out / "gym-gesture-enrolled"), "zip", out / "model")
    skipped = (f" Nobody was found long enough in {', '.join(record['skipped_clips'])}: film the whole body "
               "for a few seconds." if record["skipped_clips"] else "")
    summary = (f"Learnt **{record['label']}** from {count(len(record['clips']), 'clip')} in "
               f"{time.perf_counter() - started:.0f} s.{skipped} Try a clip below, or download the model to keep it: "
               f"unzipped into a folder of {taught_models_dir()}, it shows in the model picker.")
    if record["warning"]:
        summary += (f"\n\n**It may miss {record['label']}:** the clips look no more alike than clips of "
                    "different exercises. Teach it from clips filmed alike (the same view, the whole body in "
                    "frame), or from more.")
    details = (f"Similarity threshold {record['threshold']:.3f} ({record['threshold_from']}), "
               f"{count(record['windows'], 'window')}, enrolled in {record['seconds']:.1f} s."
               + (f" {sentence(record['warning'])}" if record["warning"] else ""))
    summary += f"\n\n<details><summary>Details</summary>\n\n{escape(details)}\n\n</details>"
    return str(out / "model"), archive, summary


def try_clip(pool: RecognizerPool, video: str | None, folder: str | None, backend: str = DEFAULT_BACKEND,
             model: str | None = None) -> tuple[dict, str]:
    """The session model's scores of its classes and its verdict in Markdown on one clip (the exercise named,
    or which non-verdict, why and the class it leans to)."""
    if not video:
        raise GymGestureError("Upload a clip to try.")
    posing = pool.get(backend, model)
    sequence = posing.extract(video)
    recognizer = _session_recognizer(pool, folder, model)
    result = recognizer.recognize_sequence(sequence.model_coordinates(recognizer.config.num_channels),
                                           sequence.layout, sequence.fps, sequence.detected,
                                           frame_size=sequence.frame_size)
    if not len(result.windows):
        raise GymGestureError("No person found in most frames: film the whole body for 3 s or more.")
    labels = recognizer.labels
    scores = {labels[i]: float(score) for i, score in enumerate(result.clip_scores)}
    if result.abstain:
        said = sentence(plain_reason(result.abstain, result.verdict))
        return scores, f"**{VERDICT_HEADLINES[result.verdict]}**: {said} Closest: {max(scores, key=scores.get)}."
    reps = sum(segment.reps for segment in result.segments
               if segment.verdict == result.verdict and segment.exercise == result.exercise)
    return scores, f"**{result.exercise}**, {count(reps, 'rep')}."


def build_teach_tab(pool: RecognizerPool, model: gr.Dropdown) -> None:
    """The "teach it" tab's components and events, inside the caller's `gr.Blocks` (and `gr.Tab`); `model` is
    the app's model picker."""
    import gradio as gr

    work_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-teach-"))

    def on_teach(name, clips, folder, model_key):
        try:
            return teach(pool, name, clips, folder, work_dir, model=model_key)
        except (GymGestureError, ValueError, OSError) as error:
            raise gr.Error(str(error)) from error

    def on_try(video, folder, model_key):
        try:
            return try_clip(pool, video, folder, model=model_key)
        except (GymGestureError, ValueError, OSError) as error:
            raise gr.Error(str(error)) from error

    gr.Markdown(
        "Name an exercise the model does not know and upload 1 to 5 clips of it (3 or more seconds each, "
        "ideally from different people or angles). The model learns it without retraining, for this session "
        "(reading the clips takes about as long as they play); download the model to keep it "
        "(`gym-gesture predict clip.mp4 --model FOLDER`).")
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
            verdict = gr.Markdown(elem_id="teach-verdict")
            # The verdict above says the answer (or the closest class): the ranking has no heading of its own.
            label = gr.Label(label=RANKING_CAPTION, num_top_classes=5, show_heading=False)
    teach_button.click(on_teach, inputs=[name, clips, folder, model], outputs=[folder, download, summary],
                       api_name="teach")
    try_button.click(on_try, inputs=[video, folder, model], outputs=[label, verdict], api_name="try_taught")
