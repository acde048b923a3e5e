"""The Gradio app: a clip in; the verdict, the skeleton overlay, the ranking, the timeline and the workout
summary out.

Thin over `inference.Recognizer`, through the app's `pool.RecognizerPool`: the model it starts with is
loaded at start-up, one picked on the page (a shipped checkpoint or a taught-exercise folder) on first use,
each pose backend once on first use. Offline by default on the shipped checkpoint; `--model` or
GYM_GESTURE_MODEL starts it on another folder or Hub id. What a person reads is said by `render.wording`;
the numbers behind a verdict are behind the page's details toggle. On a ZeroGPU Space the recognition runs
under `@spaces.GPU`. Gradio, pandas and the model code are imported when the app is built, so declaring
`gym-gesture app`'s options stays cheap.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import GymGestureError
from ..core.paths import EXAMPLES_DIR, MMPOSE_INSTALLER, REPO_ROOT
from ..analysis.prediction import EXERCISE, NO_PERSON, VERDICT_HEADLINES, Prediction
from ..pose import DEFAULT_BACKEND
from ..render.timeline_chart import timeline_svg
from ..render.wording import (RANKING_CAPTION, clip_detail, clip_form_advice, count, ranking_caption, reason_kind,
                              segment_text, sentence, shown_ranking)
from .live_tab import build_live_tab
from .pool import RecognizerPool, taught_models_dir
from .teach_tab import build_teach_tab
from .workout import sets_table, summary_files

if TYPE_CHECKING:
    import gradio as gr

    from ..analysis.abstain import AbstainThresholds

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
    """MMPose first (the default) when its extra is installed and a GPU is present; the default MediaPipe
    backend always."""
    import torch

    from ..pose import POSE_BACKENDS

    backends = [DEFAULT_BACKEND]
    if "mmpose" in POSE_BACKENDS and importlib.util.find_spec("mmpose") and torch.cuda.is_available():
        backends.insert(0, "mmpose")
    return backends


VERDICT_STYLE = """
#verdict .headline { font-size: 2.2em; font-weight: 700; line-height: 1.2; }
#verdict .headline::first-letter { text-transform: uppercase; }
#verdict .detail, #verdict .advice { font-size: 1.1em; margin-top: .2em; }
#verdict .exercise .headline { color: #0a7a3c; }
#verdict .non-verdict .headline { color: #9a5b00; }
#sets th, #sets th * { word-break: keep-all; overflow-wrap: normal; hyphens: none; }
"""


def verdict_html(headline: str, detail: str, verdict: str, advice: str | None = None) -> str:
    """The headline a person reads first, the line under it and, when there is some, the advice (on form, or
    on filming)."""
    kind = "exercise" if verdict == EXERCISE else "non-verdict"
    advice_html = f'<div class="advice">{escape(advice)}</div>' if advice else ""
    return (f'<div class="{kind}" data-verdict="{escape(verdict)}"><div class="headline">{escape(headline)}</div>'
            f'<div class="detail">{escape(detail)}</div>{advice_html}</div>')


def details_markdown(prediction: Prediction, thresholds: AbstainThresholds) -> str:
    """Behind the details toggle, the numbers: why no exercise is named as the recognizer measured it, each
    segment with its probability, the model's thresholds, what the pose backend saw, how long each stage took."""
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in prediction.timings.items())
    why = f"Why none is named: {prediction.abstain}.\n\n" if prediction.abstain else ""
    segments = "\n".join(f"- {segment.start:.1f}-{segment.end:.1f} s: {segment_text(segment)}, top probability "
                         f"{segment.probability:.2f}" + (f" ({segment.abstain})" if segment.abstain else "")
                         for segment in prediction.segments)
    return (f"{why}{segments}\n\nThresholds of `{prediction.model}`: top probability {thresholds.min_probability:.2f}, "
            f"motion energy {thresholds.min_motion:.3f}, walking speed {thresholds.min_walk_speed:.2f} torso "
            f"lengths/s, a person in {thresholds.min_detection_rate:.0%} of frames.\n\n"
            f"Person found in {prediction.detected_frames} of {prediction.frames} frames "
            f"({prediction.detection_rate:.0%}), {count(len(prediction.windows), 'window')}.\n\n"
            f"Processing: {prediction.seconds:.1f} s ({timings}); backend `{prediction.backend}`.")


def known_exercises_markdown(labels: list[str]) -> str:
    return (f"**It knows {len(labels)} exercises**: {', '.join(labels)}. Anything else, or someone walking "
            "or standing, gets *not an exercise I know* or *not sure*, never a made-up name.")


def build_demo(pool: RecognizerPool, backends: list[str] | None = None) -> gr.Blocks:
    """The app: the model picker over one tab per job (mount another with one `with gr.Tab(...)` line here)."""
    import gradio as gr

    backends = backends or available_backends()
    with gr.Blocks(title="gym-gesture", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# gym-gesture: which exercise is this?")
        model = model_picker(demo, pool)
        with gr.Tab("Recognise a clip"):
            recognize_tab(pool, backends, model)
        with gr.Tab("Live: train in front of the webcam"):
            build_live_tab(pool, model)
        with gr.Tab("Teach it a new exercise"):
            build_teach_tab(pool, model)
    return demo


def model_picker(demo: gr.Blocks, pool: RecognizerPool) -> gr.Dropdown:
    """The model every tab uses, and the exercises it knows under it. Taught-exercise folders added while the
    app runs show on the next page load."""
    import gradio as gr

    def pick(model: str) -> str:
        try:
            return known_exercises_markdown(pool.get(DEFAULT_BACKEND, model).labels)
        except (GymGestureError, ValueError, OSError) as error:
            raise gr.Error(f"Cannot load this model: {error}") from error

    picker = gr.Dropdown(pool.choices(), value=pool.default_model, label="Model", elem_id="model",
                         info=f"the shipped models, and the taught exercises in {taught_models_dir()}")
    known = gr.Markdown(known_exercises_markdown(pool.get(DEFAULT_BACKEND).labels), elem_id="intro")
    picker.change(pick, inputs=picker, outputs=known, api_visibility="private")
    demo.load(lambda: gr.Dropdown(choices=pool.choices()), outputs=picker, api_visibility="private")
    return picker


def recognize_tab(pool: RecognizerPool, backends: list[str], model: gr.Dropdown) -> None:
    """Upload or record a clip: the verdict first, the overlay, the ranking, the timeline, the workout summary."""
    import gradio as gr

    from ..inference.recognizer import NoPersonError
    from ..render.overlay import captions_path
    from ..analysis.summary import workout_sets
    from ..pose.video import probe, with_duration

    output_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-"))

    @gpu
    def recognize(video: str | None, backend: str, model_key: str | None = None, progress=gr.Progress()):
        if not video:
            raise gr.Error("Upload a clip or record one with the webcam first.")
        if backend not in backends:
            raise gr.Error(f"Unknown pose backend {backend!r}.")
        recognizer = pool.get(backend, model_key)
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
            verdict_html(prediction.headline, clip_detail(prediction), prediction.verdict,
                         clip_form_advice(prediction)),
            gr.Video(str(work / "overlay.mp4"), subtitles=str(captions_path(work / "overlay.mp4"))),
            {item.label: item.score for item in shown_ranking(prediction)} or None,
            # The threshold line's label is a number: it is told behind the details toggle instead.
            timeline_svg(prediction.duration, prediction.segments, prediction.windows,
                         class_names=prediction.class_names),
            sets_table(sets, prediction.segments),
            summary_files(sets, work),
            details_markdown(prediction, recognizer.thresholds),
            prediction.to_json(),
        )

    def no_person_outputs(reason: str, duration: float, work: Path):
        return (verdict_html(VERDICT_HEADLINES[NO_PERSON], sentence(reason), NO_PERSON,
                             sentence(reason_kind(reason, NO_PERSON).todo)),
                None, None, timeline_svg(duration),
                sets_table([], []), summary_files([], work), "", None)

    def clear():
        """The last clip's results go as the next one starts: none shows under the next one's progress."""
        return (verdict_html("", "", EXERCISE), None, gr.Label(None, label=RANKING_CAPTION), "",
                sets_table([], []), None, "", None)

    def caption_ranking(raw: dict | None):
        """The ranking's caption, by the verdict (`wording.ranking_caption`): set after the outputs, so the
        API's ranking stays plain scores."""
        return gr.Label(label=ranking_caption(Prediction.from_json(raw)) if raw else RANKING_CAPTION)

    gr.Markdown(
        "Upload a short clip of one person exercising, or record one. A pose estimator finds the skeleton in "
        "every frame and a Transformer over the skeleton's motion names the exercise, second by second. "
        f"Clips up to {pool.max_duration:.0f} s.", elem_id="upload-intro")
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
            # No heading: the verdict above is the answer, the ranking never a second one.
            ranking = gr.Label(label=RANKING_CAPTION, num_top_classes=TOP_K, elem_id="ranking", show_heading=False)
    timeline = gr.HTML(elem_id="timeline")
    # The page's width for the summary's nine columns, so that the form advice reads whole.
    sets = gr.Dataframe(sets_table([], []), label="Workout summary", elem_id="sets", interactive=False, wrap=True)
    downloads = gr.File(label="Download the summary (CSV, JSON)", file_count="multiple", elem_id="downloads",
                        interactive=False)
    with gr.Accordion("Details", open=False, elem_id="details-toggle"):
        details = gr.Markdown(elem_id="details")
        raw = gr.JSON(label="Prediction (JSON)")
    # A webcam recording (WebM) comes without a duration: the player showed "Infinity:NaN:NaN".
    video.stop_recording(lambda path: str(with_duration(path, output_dir)) if path else path, inputs=video,
                         outputs=video)
    outputs = [verdict, overlay, ranking, timeline, sets, downloads, details, raw]
    # Progress, and an error, show on the verdict alone: the other outputs are cleared first.
    button.click(clear, outputs=outputs, queue=False, show_progress="hidden", api_visibility="private").then(
        recognize, inputs=[video, backend, model], outputs=outputs, show_progress_on=verdict, api_name="predict"
    ).success(caption_ranking, inputs=raw, outputs=ranking, queue=False, show_progress="hidden",
              api_visibility="private")


def example_label(path: Path) -> str:
    """"russian twist" of `russian_twist.mp4`: the name shown on an example's thumbnail."""
    return path.stem.replace("_", " ")


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
