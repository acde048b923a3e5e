"""The Gradio app: a clip in; the verdict, the skeleton overlay, the ranking, the timeline and the workout
summary out.

Thin over `inference.Recognizer`: the model is loaded once at start-up, each pose backend once on
first use. Offline by default on the shipped checkpoint; `--model` or GYM_GESTURE_MODEL picks another
folder or Hub id. On a ZeroGPU Space the recognition runs under `@spaces.GPU`. Gradio, pandas and the model
code are imported when the app is built, so declaring `gym-gesture app`'s options stays cheap.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.paths import MMPOSE_INSTALLER, REPO_ROOT
from ..core.paths import EXAMPLES_DIR
from ..analysis.prediction import EXERCISE, NO_PERSON, VERDICT_HEADLINES, Prediction
from ..render.timeline_chart import timeline_svg
from ..render.wording import clip_detail, count, segment_text
from .live_tab import build_live_tab
from .pool import RecognizerPool
from .teach_tab import build_teach_tab

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd

    from ..analysis.summary import WorkoutSet

logger = logging.getLogger(__name__)

# The longest upload the app takes unless --max-duration (or GYM_GESTURE_MAX_DURATION) says otherwise.
DEFAULT_MAX_UPLOAD_DURATION_S = 60.0
DEFAULT_MAX_FILE_SIZE = "50mb"
TOP_K = 5
STAGE_TEXT = {"pose": "finding the person", "windows": "cutting windows", "model": "classifying",
              "overlay": "drawing the skeleton", "done": "done"}

try:  # ZeroGPU Spaces: the GPU is attached only inside functions decorated with spaces.GPU
    import spaces

    gpu = spaces.GPU(duration=120)
except ImportError:
    def gpu(function):
        return function


def install_mmpose_on_gpu_space() -> None:
    """On a Hugging Face Space (SPACE_ID set) with a GPU, install the MMPose extra if it is missing, with
    the script that `hub.build_space_folder` ships to GPU Spaces. If that fails the app runs on MediaPipe."""
    import torch

    installer = REPO_ROOT / MMPOSE_INSTALLER
    if not (os.environ.get("SPACE_ID") and installer.is_file() and torch.cuda.is_available()):
        return
    if importlib.util.find_spec("mmpose") is not None:
        return
    logger.warning("installing the MMPose extra with %s (mmcv is built from source: minutes)", installer)
    result = subprocess.run(["bash", str(installer)], env=dict(os.environ, PYTHON=sys.executable))
    if result.returncode != 0:
        logger.error("%s failed (exit status %d): MediaPipe only", installer, result.returncode)
    importlib.invalidate_caches()


def available_backends() -> list[str]:
    """MMPose first (the default) when its extra is installed and a GPU is present; MediaPipe always."""
    import torch

    from ..pose import POSE_BACKENDS

    backends = ["mediapipe"]
    if "mmpose" in POSE_BACKENDS and importlib.util.find_spec("mmpose") and torch.cuda.is_available():
        backends.insert(0, "mmpose")
    return backends


VERDICT_STYLE = """
#verdict .headline { font-size: 2.2em; font-weight: 700; line-height: 1.2; }
#verdict .headline::first-letter { text-transform: uppercase; }
#verdict .detail { font-size: 1.1em; margin-top: .2em; }
#verdict .exercise .headline { color: #0a7a3c; }
#verdict .non-verdict .headline { color: #9a5b00; }
"""


def verdict_html(headline: str, detail: str, verdict: str) -> str:
    """The headline a person reads first, and the line under it."""
    kind = "exercise" if verdict == EXERCISE else "non-verdict"
    return (f'<div class="{kind}" data-verdict="{escape(verdict)}"><div class="headline">{escape(headline)}</div>'
            f'<div class="detail">{escape(detail)}</div></div>')


def details_markdown(prediction: Prediction) -> str:
    """Under the timeline: each segment in words, what the pose backend saw, how long each stage took."""
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in prediction.timings.items())
    segments = "\n".join(f"- {segment.start:.1f}-{segment.end:.1f} s: {segment_text(segment)}"
                          + (f" ({segment.abstain})" if segment.abstain else "") for segment in prediction.segments)
    return (f"{segments}\n\nPerson found in {prediction.detected_frames} of {prediction.frames} frames "
            f"({prediction.detection_rate:.0%}), {count(len(prediction.windows), 'window')}.\n\n"
            f"Processing: {prediction.seconds:.1f} s ({timings}); backend `{prediction.backend}`.")


def known_exercises_markdown(labels: list[str]) -> str:
    return (f"**It knows {len(labels)} exercises**: {', '.join(labels)}. Anything else, or someone walking "
            "or standing, gets *not an exercise I know* or *not sure*, never a made-up name.")


def build_demo(pool: RecognizerPool, backends: list[str] | None = None) -> gr.Blocks:
    """The app: one tab per job (mount another with one `with gr.Tab(...)` line here)."""
    import gradio as gr

    backends = backends or available_backends()
    with gr.Blocks(title="gym-gesture", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# gym-gesture: which exercise is this?")
        with gr.Tab("Recognise a clip"):
            recognise_tab(pool, backends)
        with gr.Tab("Live: train in front of the webcam"):
            build_live_tab(pool)
        with gr.Tab("Teach it a new exercise"):
            build_teach_tab(pool)
    return demo


def recognise_tab(pool: RecognizerPool, backends: list[str]) -> None:
    """Upload or record a clip: the verdict first, the overlay, the ranking, the timeline, the workout summary."""
    import gradio as gr

    from ..inference.recognizer import NoPersonError
    from ..render.overlay import captions_path
    from ..analysis.summary import workout_sets
    from ..pose.video import probe, with_duration

    output_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-"))

    @gpu
    def recognise(video: str | None, backend: str, progress=gr.Progress()):
        if not video:
            raise gr.Error("Upload a clip or record one with the webcam first.")
        if backend not in backends:
            raise gr.Error(f"Unknown pose backend {backend!r}.")
        recognizer = pool.get(backend)
        work = Path(tempfile.mkdtemp(dir=output_dir))
        try:
            prediction = recognizer.predict(
                video, top_k=TOP_K, overlay_path=work / "overlay.mp4",
                progress=lambda fraction, stage: progress(fraction, desc=STAGE_TEXT.get(stage, stage)))
        except NoPersonError as error:
            return no_person_outputs(_without_path(error, video), probe(video).duration, work)
        except (ValueError, OSError) as error:
            raise gr.Error(f"Cannot read this clip: {_without_path(error, video)}") from error
        sets = workout_sets(prediction.segments)
        return (
            verdict_html(prediction.headline, clip_detail(prediction), prediction.verdict),
            gr.Video(str(work / "overlay.mp4"), subtitles=str(captions_path(work / "overlay.mp4"))),
            {item.label: item.score for item in prediction.top_k},
            timeline_svg(prediction.duration, prediction.segments, prediction.windows,
                         class_names=prediction.class_names, min_probability=recognizer.thresholds.min_probability),
            sets_table(sets),
            summary_files(sets, work),
            details_markdown(prediction),
            prediction.to_json(),
        )

    def no_person_outputs(reason: str, duration: float, work: Path):
        headline = VERDICT_HEADLINES[NO_PERSON]
        return (verdict_html(headline, f"{reason[0].upper()}{reason[1:]}.", NO_PERSON), None, None,
                timeline_svg(duration), sets_table([]), summary_files([], work), "", None)

    labels = pool.get("mediapipe").labels  # the model's, whichever backend
    gr.Markdown(
        "Upload a short clip of one person exercising, or record one. A pose estimator finds the skeleton in "
        "every frame and a Transformer over the skeleton's motion names the exercise, second by second. "
        f"Clips up to {pool.max_duration:.0f} s.\n\n" + known_exercises_markdown(labels), elem_id="intro")
    with gr.Row():
        with gr.Column():
            # format=None and audio kept: Gradio would otherwise re-encode uploads with a system
            # ffmpeg; PyAV reads any container itself (webcam recordings come as WebM).
            video = gr.Video(label="Clip", sources=["upload", "webcam"], format=None, include_audio=True,
                             elem_id="clip")
            # One backend is no choice: the dropdown shows only where MMPose (with a GPU) is there too.
            backend = gr.Dropdown(backends, value=backends[0], label="Pose backend", visible=len(backends) > 1,
                                  info="MMPose on the GPU; MediaPipe on the CPU")
            button = gr.Button("Recognise", variant="primary")
            examples = sorted(EXAMPLES_DIR.glob("*.mp4"))
            if examples:
                gr.Examples([[str(path), backends[0]] for path in examples], inputs=[video, backend],
                            example_labels=[example_label(path) for path in examples],
                            label="Examples (clips the model never trained on)")
        with gr.Column():
            verdict = gr.HTML(elem_id="verdict", value=verdict_html("", "", EXERCISE))
            # The caption track sits under the picture, away from the component's own label.
            overlay = gr.Video(label="Skeleton overlay", interactive=False, elem_id="overlay", show_label=False)
            ranking = gr.Label(label="The model's ranking", num_top_classes=TOP_K, elem_id="ranking")
    timeline = gr.HTML(elem_id="timeline", label="Timeline", show_label=True)
    with gr.Row():
        sets = gr.Dataframe(label="Workout summary", elem_id="sets", interactive=False, wrap=True)
        downloads = gr.File(label="Download the summary (CSV, JSON)", file_count="multiple", elem_id="downloads",
                            interactive=False)
    details = gr.Markdown(elem_id="details")
    with gr.Accordion("JSON", open=False):
        raw = gr.JSON(label="Prediction")
    # A webcam recording (WebM) comes without a duration: the player showed "Infinity:NaN:NaN".
    video.stop_recording(lambda path: str(with_duration(path, output_dir)) if path else path, inputs=video,
                         outputs=video)
    button.click(recognise, inputs=[video, backend],
                 outputs=[verdict, overlay, ranking, timeline, sets, downloads, details, raw], api_name="predict")


def example_label(path: Path) -> str:
    """"russian twist" of `russian_twist.mp4`: the name shown on an example's thumbnail."""
    return path.stem.replace("_", " ")


# The summary's columns as the table on the page heads them (the files keep SUMMARY_COLUMNS).
TABLE_HEADERS = {"exercise": "exercise", "start_s": "start (s)", "end_s": "end (s)", "reps": "reps",
                 "tempo_s_per_rep": "tempo (s/rep)", "range_of_motion_deg": "range of motion (°)",
                 "main_joint": "main joint", "hold_s": "hold (s)", "form": "form"}


def sets_table(sets: list[WorkoutSet]) -> pd.DataFrame:
    import pandas as pd

    from ..analysis.summary import SUMMARY_COLUMNS

    table = pd.DataFrame([asdict(workout_set) for workout_set in sets], columns=list(SUMMARY_COLUMNS))
    return table.rename(columns=TABLE_HEADERS)


def summary_files(sets: list[WorkoutSet], folder: Path) -> list[str]:
    """The workout summary as CSV and JSON, the two downloads."""
    from ..analysis.summary import write_summary

    return [str(write_summary(sets, folder / f"workout_summary.{suffix}")) for suffix in ("csv", "json")]


def _without_path(error: Exception, video: str) -> str:
    """Error text without the server's temporary path of the upload."""
    return str(error).replace(f"{video}: ", "").replace(str(video), "the clip")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `gym-gesture app` (and `python app.py`)."""
    parser.add_argument("--model", default=os.environ.get("GYM_GESTURE_MODEL"), metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: $GYM_GESTURE_MODEL, else the shipped checkpoint)")
    parser.add_argument("--revision", default=os.environ.get("GYM_GESTURE_MODEL_REVISION"), metavar="REV",
                        help="with a Hub id: the branch, tag or commit (default: $GYM_GESTURE_MODEL_REVISION, else main)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--max-duration", type=float,
                        default=float(os.environ.get("GYM_GESTURE_MAX_DURATION", DEFAULT_MAX_UPLOAD_DURATION_S)),
                        help="longest clip accepted, in seconds (default: 60)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests processed at once (default: 1)")


def run(args: argparse.Namespace) -> int:
    """Load the model (a bad --model fails here, before the server starts) and serve until interrupted."""
    install_mmpose_on_gpu_space()
    demo = build_demo(RecognizerPool(args.model, args.max_duration, args.revision))
    demo.queue(default_concurrency_limit=args.concurrency, max_size=20).launch(
        server_name=args.host, server_port=args.port, max_file_size=DEFAULT_MAX_FILE_SIZE, css=VERDICT_STYLE)
    return 0
