"""The Gradio app: a clip in, the exercise, the skeleton overlay and the per-window timeline out.

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
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .hub import MMPOSE_INSTALLER, REPO_ROOT
from .paths import EXAMPLES_DIR

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd

    from .inference import Recognizer
    from .prediction import Segment

logger = logging.getLogger(__name__)

DEFAULT_MAX_DURATION_S = 60.0
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

    from .pose import POSE_BACKENDS

    backends = ["mediapipe"]
    if "mmpose" in POSE_BACKENDS and importlib.util.find_spec("mmpose") and torch.cuda.is_available():
        backends.insert(0, "mmpose")
    return backends


class RecognizerPool:
    """One model shared by one `Recognizer` per pose backend, each backend created once, on first use."""

    def __init__(self, model: str | None, max_duration: float | None, revision: str | None = None):
        from .inference import Recognizer

        first = Recognizer.from_pretrained(model, backend="mediapipe", max_duration=max_duration, revision=revision)
        self.model_name = first.model_name
        self.max_duration = max_duration
        self._recognizers = {"mediapipe": first}
        self._lock = threading.Lock()

    def get(self, backend: str) -> Recognizer:
        from .inference import Recognizer
        from .pose import create_backend

        with self._lock:
            if backend not in self._recognizers:
                first = self._recognizers["mediapipe"]
                self._recognizers[backend] = Recognizer(first.model, create_backend(backend),
                                                        model_name=self.model_name,
                                                        max_duration=self.max_duration,
                                                        form_model=first.form_model,
                                                        thresholds=first.thresholds)
            return self._recognizers[backend]


def timeline_frame(prediction) -> pd.DataFrame:
    """Long table for the timeline plot: each window's probability of each of the clip's top classes."""
    import pandas as pd

    index = {label: i for i, label in enumerate(prediction.class_names)}
    rows = []
    for window, probabilities in zip(prediction.windows, prediction.window_probabilities):
        middle = round((window.start_s + window.end_s) / 2, 3)
        for item in prediction.top_k[:3]:
            rows.append({"time (s)": middle, "probability": float(probabilities[index[item.label]]),
                         "class": item.label})
    return pd.DataFrame(rows, columns=["time (s)", "probability", "class"])


def segment_line(segment: Segment) -> str:
    line = (f"- {segment.start:.1f}-{segment.end:.1f} s: **{segment.exercise}**, "
            f"{segment.reps} rep{'s' if segment.reps != 1 else ''}")
    if segment.form:
        form, angles = segment.form, segment.form.angles
        line += (f"; {form.verdict} (body line {angles['body_line']:.0f}°, "
                 f"deepest elbow {angles['elbow_min']:.0f}°)")
        if form.hint:
            line += f": {form.hint}"
    if segment.abstain:
        line += f"; unsure: {segment.abstain}"
    return line


def summary_markdown(prediction) -> str:
    timings = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in prediction.timings.items())
    verdict = (f"**No exercise named**: {prediction.abstain}" if prediction.abstain
               else f"**{prediction.label}**, {prediction.reps} rep{'s' if prediction.reps != 1 else ''}")
    segments = "\n".join(segment_line(segment) for segment in prediction.segments)
    return (f"{verdict}.\n\nPerson found in {prediction.detected_frames} of {prediction.frames} "
            f"frames ({prediction.detection_rate:.0%}), {len(prediction.windows)} windows.\n\n"
            f"{segments}\n\n"
            f"Processing: {prediction.seconds:.1f} s ({timings}); backend `{prediction.backend}`.")


def build_demo(pool: RecognizerPool, backends: list[str] | None = None) -> gr.Blocks:
    import gradio as gr

    from .app_teach import build_teach_tab
    from .inference import NoPersonError

    backends = backends or available_backends()
    output_dir = Path(tempfile.mkdtemp(prefix="gym-gesture-"))

    @gpu
    def recognise(video: str | None, backend: str, progress=gr.Progress()):
        if not video:
            raise gr.Error("Upload a clip or record one with the webcam first.")
        if backend not in backends:
            raise gr.Error(f"Unknown pose backend {backend!r}.")
        recognizer = pool.get(backend)
        overlay = Path(tempfile.mkstemp(suffix=".mp4", dir=output_dir)[1])
        try:
            prediction = recognizer.predict(
                video, top_k=TOP_K, overlay_path=overlay,
                progress=lambda fraction, stage: progress(fraction, desc=STAGE_TEXT.get(stage, stage)))
        except NoPersonError as error:
            overlay.unlink(missing_ok=True)
            raise gr.Error(f"No person found: {_without_path(error, video)}") from error
        except (ValueError, OSError) as error:
            overlay.unlink(missing_ok=True)
            raise gr.Error(f"Cannot read this clip: {_without_path(error, video)}") from error
        return (
            str(overlay),
            {item.label: item.score for item in prediction.top_k},
            timeline_frame(prediction),
            summary_markdown(prediction),
            prediction.to_json(),
        )

    with gr.Blocks(title="gym-gesture", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# gym-gesture: which exercise is this?\n"
            "Upload a short clip of one person exercising (or record one). A pose estimator finds the "
            "skeleton in every frame and a Transformer over the skeleton's motion names the exercise, "
            f"window by window. Clips up to {pool.max_duration:.0f} s.")
        with gr.Row():
            with gr.Column():
                # format=None and audio kept: Gradio would otherwise re-encode uploads with a system
                # ffmpeg; PyAV reads any container itself (webcam recordings come as WebM).
                video = gr.Video(label="Clip", sources=["upload", "webcam"], format=None, include_audio=True,
                                 elem_id="clip")
                backend = gr.Dropdown(backends, value=backends[0], label="Pose backend",
                                      info="MediaPipe on the CPU; MMPose needs a GPU")
                button = gr.Button("Recognise", variant="primary")
            with gr.Column():
                overlay = gr.Video(label="Skeleton overlay", interactive=False, elem_id="overlay")
                label = gr.Label(label="Exercise", num_top_classes=TOP_K, elem_id="label")
        timeline = gr.LinePlot(x="time (s)", y="probability", color="class", y_lim=[0, 1],
                               label="Per-window predictions")
        summary = gr.Markdown(elem_id="summary")
        with gr.Accordion("JSON", open=False):
            details = gr.JSON(label="Prediction")
        examples = sorted(EXAMPLES_DIR.glob("*.mp4"))
        if examples:
            gr.Examples([[str(path), backends[0]] for path in examples], inputs=[video, backend])
        button.click(recognise, inputs=[video, backend], outputs=[overlay, label, timeline, summary, details],
                     api_name="predict")
        build_teach_tab(pool)
    return demo


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
                        default=float(os.environ.get("GYM_GESTURE_MAX_DURATION", DEFAULT_MAX_DURATION_S)),
                        help="longest clip accepted, in seconds (default: 60)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests processed at once (default: 1)")


def run(args: argparse.Namespace) -> int:
    """Load the model (a bad --model fails here, before the server starts) and serve until interrupted."""
    install_mmpose_on_gpu_space()
    demo = build_demo(RecognizerPool(args.model, args.max_duration, args.revision))
    demo.queue(default_concurrency_limit=args.concurrency, max_size=20).launch(
        server_name=args.host, server_port=args.port, max_file_size=DEFAULT_MAX_FILE_SIZE)
    return 0
