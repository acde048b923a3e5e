"""One clip in, the exercise out: the single inference path of the CLI, the app and the benchmarks.

video -> pose backend (frames resampled to the model's `sample_fps`) -> windows cut and normalized
exactly as in training (`data.windows_from_sequence`, driven by the model's config) -> the model ->
per-window probabilities -> the clip's scores (mean of the window probabilities) and the timeline of
segments, cut into sets as live mode cuts them (`sets.clip_sets`) -> optional overlay.
`Recognizer.recognize_sequence` is the part after the pose backend, for pose sequences that are already
extracted.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.windows import Windows, windows_from_sequence
from ..core.errors import InputError, MissingFileError
from ..analysis.form import FormModel
from ..core.paths import CHECKPOINTS_DIR, DEFAULT_MODEL_DIR, FORM_MODEL_FILE
from ..pose import DEFAULT_BACKEND
from ..pose.base import PoseBackend, PoseFrame
from ..analysis.prediction import NO_PERSON, ClassScore, FollowedSpan, Prediction, Segment, WindowScore
from ..analysis.abstain import DEFAULT_THRESHOLDS, AbstainSample, AbstainThresholds, PrototypeSimilarity, span_sample
from ..analysis.segments import segments_from_windows
from ..analysis.sets import bridge_pauses, clip_sets
from ..analysis.verdict import clip_verdict, describe_segments, segment_reps

# What a Hub download of a model takes: its config, weights, remote code and per-model files, nothing else.
MODEL_FOLDER_PATTERNS = ("*.json", "*.safetensors", "*.py", "*.md")
# The longest clip a Recognizer (and `predict`) takes by default: the video readers' limit, named here so
# that importing the recognizer does not load PyAV.
DEFAULT_MAX_CLIP_DURATION_S = 600.0
STAGES = ("pose", "windows", "model", "overlay")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# The checkpoints shipped in the package, by name: `--model NAME` takes them without a path.
SHIPPED_MODELS = tuple(sorted(folder.name for folder in CHECKPOINTS_DIR.iterdir() if (folder / "config.json").is_file()))


class NoPersonError(InputError):
    """The pose backend found nobody (or too briefly to fill one window) in the clip."""


@dataclass
class SequenceResult:
    """`Recognizer.recognize_sequence`: windows (`data.Windows`), their probabilities (N, classes), the
    clip's scores (mean of those), the described segments, the clip's verdict (`verdict.clip_verdict`:
    the verdict, the exercise named or None, the abstain reason or None) and what the clip's own abstain
    reason was read from (`abstain.AbstainSample`; None when the clip gives no window)."""

    windows: Windows
    probabilities: np.ndarray
    clip_scores: np.ndarray
    segments: list[Segment]
    verdict: str
    exercise: str | None
    abstain: str | None
    clip_sample: AbstainSample | None = None


def window_probabilities_and_similarities(model, keypoints: np.ndarray, attention_mask: np.ndarray,
                                          batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(N, num_labels) softmax probabilities of windows (`data.Windows`), in batches, on the model's device:
    the one model call of predict, evaluate and the benchmarks; and (N, enrolled classes) the windows'
    similarity to each enrolled class's prototypes (no columns for a model without enrolled classes)."""
    import torch

    device = next(model.parameters()).device
    # Moved once and sliced, the logits gathered and turned into probabilities once: at batch 1 the
    # per-call conversions would cost about as much as the model.
    keypoints = torch.from_numpy(keypoints).to(device)
    attention_mask = torch.from_numpy(attention_mask).to(device, torch.bool)
    logits = torch.empty(len(keypoints), model.config.num_labels, device=device)
    similarities = torch.empty(len(keypoints), model.config.num_enrolled_labels, device=device)
    enrolled = model.config.num_enrolled_labels > 0
    with torch.inference_mode():
        for start in range(0, len(keypoints), batch_size):
            end = start + batch_size
            # A tuple, every option given: at batch 1 a ModelOutput and the config's defaults cost a tenth.
            output = model(keypoints[start:end], attention_mask=attention_mask[start:end],
                           output_hidden_states=False, output_attentions=False, return_dict=False)
            logits[start:end] = output[0]
            if enrolled:
                similarities[start:end] = output[-1]
    return torch.softmax(logits.float(), dim=-1).cpu().numpy(), similarities.float().cpu().numpy()

def window_probabilities(model, keypoints: np.ndarray, attention_mask: np.ndarray,
                         batch_size: int = 256) -> np.ndarray:
    """(N, num_labels) softmax probabilities of windows: `window_probabilities_and_similarities` without the
    similarities."""
    return window_probabilities_and_similarities(model, keypoints, attention_mask, batch_size)[0]


def name_clip(probabilities: np.ndarray, similarities: np.ndarray,
              config) -> tuple[np.ndarray, int, PrototypeSimilarity | None]:
    """A clip's scores (the mean of its windows' probabilities, `window_probabilities`), the class they name and,
    when that class is enrolled, how close the clip is to its enrolled clips (the mean of its windows'
    similarities), which the abstain decision reads."""
    clip_scores = probabilities.mean(axis=0)
    best = int(clip_scores.argmax())
    enrolled = best - config.num_trained_labels
    if enrolled < 0:
        return clip_scores, best, None
    return clip_scores, best, PrototypeSimilarity(float(similarities[:, enrolled].mean()),
                                                  float(config.prototype_thresholds[enrolled]))


class _ProgressBackend(PoseBackend):
    """Wraps a backend to report each processed frame: `extract_clip` has no callback of its own."""

    def __init__(self, backend: PoseBackend, on_frame):
        self.backend, self.on_frame = backend, on_frame
        self.name, self.layout = backend.name, backend.layout

    def __call__(self, frame_rgb: np.ndarray) -> PoseFrame:
        pose = self.backend(frame_rgb)
        self.on_frame()
        return pose

    def set_frame_rate(self, fps: float) -> None:
        self.backend.set_frame_rate(fps)

    def reset(self) -> None:
        self.backend.reset()


def resolve_model_dir(source: str | Path | None = None, revision: str | None = None) -> Path:
    """The local folder of a model: a saved folder as it is, the name of a shipped checkpoint
    (`SHIPPED_MODELS`), or a Hub id (`USER/NAME`, at `revision`) downloaded once into huggingface_hub's
    cache (`snapshot_download`); default: the shipped checkpoint `DEFAULT_MODEL_DIR`.
    Everything the recognizer reads of a model (config, weights, calibration, form model) comes from this
    folder. Raises FileNotFoundError naming `source` when it is neither, or when the Hub cannot be reached
    and the model is not in the cache."""
    source = str(source or DEFAULT_MODEL_DIR)
    folder = Path(source)
    if not folder.exists() and source in SHIPPED_MODELS:
        folder = CHECKPOINTS_DIR / source
    if folder.exists():
        if revision:
            raise InputError(f"--revision {revision}: {source} is a local folder, not a Hub id")
        return folder
    looks_like_path = folder.is_absolute() or source.startswith(".") or source.count("/") != 1
    if looks_like_path:
        raise MissingFileError(f"{source}: no such model folder (shipped models: {', '.join(SHIPPED_MODELS)})")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError, \
        RevisionNotFoundError

    try:
        return Path(snapshot_download(source, revision=revision, allow_patterns=list(MODEL_FOLDER_PATTERNS)))
    except LocalEntryNotFoundError as error:
        raise MissingFileError(f"{source}: not in the local Hugging Face cache and the Hub cannot be reached "
                                f"(offline?); download it once with network access, or pass a local folder") from error
    except (RepositoryNotFoundError, RevisionNotFoundError, HFValidationError) as error:
        raise MissingFileError(f"{source}" + (f" at revision {revision}" if revision else "") +
                                f": no such model on the Hub ({type(error).__name__})") from error


def load_model(source: str | Path | None = None, revision: str | None = None):
    """A saved model folder or a Hub id (default: the shipped checkpoint), in evaluation mode.

    Weights load only from safetensors: a folder whose weights are a pickle (`pytorch_model.bin`, `.pt`)
    is refused without unpickling it. Every problem is a FileNotFoundError / ValueError naming `source`.
    """
    from safetensors import SafetensorError
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as transformers_logging

    from .. import register_auto_classes

    register_auto_classes()
    folder = resolve_model_dir(source, revision)
    if not (folder / "config.json").is_file():
        raise MissingFileError(f"{source}: not a model folder (no config.json)")
    try:
        json.loads((folder / "config.json").read_text())
    except ValueError as error:
        raise InputError(f"{folder / 'config.json'}: not valid JSON ({error})") from error
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(path.name for path in folder.iterdir() if path.suffix in _PICKLE_SUFFIXES)
        raise MissingFileError(f"{source}: no model.safetensors" + (
            f"; {', '.join(pickles)} is a pickle, which is never loaded (save the model with "
            "save_pretrained, which writes safetensors)" if pickles else ""))
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # no "Loading weights" bar: a folder on disk loads in a moment
    try:
        return AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True).eval()
    except SafetensorError as error:
        raise InputError(f"{source}: unreadable safetensors weights ({error})") from error
    except ValueError as error:
        raise InputError(f"{source}: {error}") from error
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


class Recognizer:
    """A model and a pose backend, loaded once, that turn clips into `Prediction`s.

        recognizer = Recognizer.from_pretrained()            # the shipped checkpoint, MediaPipe
        prediction = recognizer.predict("clip.mp4", overlay_path="overlay.mp4")
        print(prediction.label, prediction.to_json())

    The preprocessing (sample rate, window length and stride, joint layout, normalization) is read
    from the model's config, so a model is always fed the way it was trained.
    """

    def __init__(self, model, backend: PoseBackend | None, *, model_name: str = "",
                 max_duration: float | None = DEFAULT_MAX_CLIP_DURATION_S, batch_size: int = 256,
                 form_model: FormModel | None = None, thresholds: AbstainThresholds = DEFAULT_THRESHOLDS):
        self.model = model.eval()
        self.form_model = form_model
        self.thresholds = thresholds
        self.config = model.config
        self.backend = backend
        self.model_name = model_name or getattr(self.config, "_name_or_path", "")
        self.max_duration = max_duration
        self.batch_size = batch_size
        self._lock = threading.Lock()  # pose backends keep per-clip state: one clip at a time

    @classmethod
    def from_pretrained(cls, model: str | Path | None = None, backend: str | PoseBackend | None = DEFAULT_BACKEND,
                        *, revision: str | None = None, device: str | None = None, **kwargs) -> "Recognizer":
        """`model`: a saved folder or a Hub id at `revision` (default: the shipped checkpoint, offline);
        `backend`: a registered pose backend name (`gym_gesture.pose.POSE_BACKENDS`) or an instance; None
        for a recognizer of pose sequences only (`recognize_sequence`, as evaluate and calibrate use it).
        Everything else comes from the model's folder: the abstain thresholds from its calibration.json
        (`gym-gesture calibrate`; the defaults of `abstain.AbstainThresholds` without one), the push-up
        form model from its `FORM_MODEL_FILE` (no form feedback without one)."""
        from ..pose import create_backend

        name = str(model or DEFAULT_MODEL_DIR)
        folder = resolve_model_dir(name, revision)
        if "thresholds" not in kwargs:  # before the weights: a bad file fails fast
            kwargs["thresholds"] = AbstainThresholds.for_model(folder)
        if "form_model" not in kwargs and (folder / FORM_MODEL_FILE).is_file():
            kwargs["form_model"] = FormModel.load(folder / FORM_MODEL_FILE)
        loaded = load_model(folder)
        if device:
            loaded = loaded.to(device)
        if isinstance(backend, str):
            backend = create_backend(backend)
        return cls(loaded, backend, model_name=name, **kwargs)

    @property
    def labels(self) -> list[str]:
        return [self.config.id2label[i] for i in range(self.config.num_labels)]

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()

    def window_probabilities(self, keypoints: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(N, num_labels) softmax probabilities of windows from `data.windows_from_sequence`."""
        return window_probabilities(self.model, keypoints, attention_mask, self.batch_size)

    def recognize_sequence(self, keypoints: np.ndarray, layout: str, fps: float, detected: np.ndarray, *,
                           frame_size: tuple[int, int] | None = None, timings: dict | None = None,
                           on_windows=None) -> SequenceResult:
        """Windows, probabilities, clip scores, timeline and abstain reason of a pose sequence: keypoints
        (T, J, C) in `layout` at `fps`, NaN where `detected` (T,) is False, x / width and y / height of
        frames of `frame_size` (None where unknown: the model's processor reads them as they are). No
        windows (and no segments) when the person is missing in most frames of every window.

        Only the windows of one clip are held at once (for 10 minutes at the shipped model's 10 fps and a
        window every 5 frames, 1200 windows of 30 x 17 x 3 floats: 7 MB); probabilities are computed in batches."""
        timings = {} if timings is None else timings
        step = time.perf_counter()
        windows = windows_from_sequence(keypoints, layout, fps, self.config, frame_size=frame_size)
        timings["windows"] = time.perf_counter() - step
        if len(windows) == 0:
            return SequenceResult(windows, np.zeros((0, self.config.num_labels)), np.zeros(self.config.num_labels),
                                  [], NO_PERSON, None, "no person found in most frames: too few for one window")
        if on_windows:
            on_windows()
        step = time.perf_counter()
        probabilities, similarities = window_probabilities_and_similarities(
            self.model, windows.keypoints, windows.attention_mask, self.batch_size)
        timings["model"] = time.perf_counter() - step
        clip_scores, best, similarity = name_clip(probabilities, similarities, self.config)
        labels = self.labels
        # Cut into sets as a live session of the clip cuts them: the rest and getting ready are no set.
        segments = clip_sets(
            bridge_pauses(segments_from_windows(windows.spans[:, 0], windows.spans[:, 1], probabilities, labels,
                                                min_probability=self.thresholds.min_probability)),
            lambda pieces: describe_segments(pieces, keypoints, layout, fps, detected, form_model=self.form_model,
                                             thresholds=self.thresholds, frame_size=frame_size),
            lambda piece: segment_reps(piece, keypoints, layout, fps, detected), fps)
        clip_sample = span_sample(keypoints, layout, fps, detected, 0.0, len(keypoints) / fps, labels[best],
                                  float(clip_scores[best]), similarity=similarity, frame_size=frame_size)
        verdict, segments = clip_verdict(segments, clip_sample.abstention(self.thresholds))
        return SequenceResult(windows, probabilities, clip_scores, segments, verdict.verdict, verdict.exercise,
                              verdict.abstain, clip_sample)

    def extract(self, video_path: str | Path):
        """The clip's `PoseSequence` at the model's frame rate, as `predict` reads it (one clip at a time:
        the pose backend keeps per-clip state), for callers that classify it themselves (enrollment)."""
        from ..pose.sequence import extract_clip

        with self._lock:
            return extract_clip(video_path, self.backend, float(self.config.sample_fps), max_duration=self.max_duration)

    def predict(self, video_path: str | Path, top_k: int = 5, overlay_path: str | Path | None = None,
                progress=None, crop: tuple[float, float, float, float] | None = None) -> Prediction:
        """Recognize the exercise in one clip.

        progress: optional `progress(fraction, stage)` called as each stage (`STAGES`) advances.
        crop: (left, top, right, bottom) fractions of the frame to read as if the clip had been filmed so,
        as `extract` reads a manifest's `crop` (one view of a split-screen clip); not with an overlay.
        Raises FileNotFoundError / ValueError for a missing or unreadable file or one over the duration
        cap, and `NoPersonError` when nobody is found.
        """
        with self._lock:
            return self._predict(video_path, top_k, overlay_path, progress, crop)

    def _predict(self, video_path, top_k, overlay_path, progress, crop) -> Prediction:
        from ..render.overlay import SkeletonOverlay, captions_path, write_captions
        from ..pose.sequence import extract_clip
        from ..pose.video import DEFAULT_MAX_PIXELS, probe
        from ..render.wording import caption_cues

        report = progress or (lambda fraction, stage: None)
        started = time.perf_counter()
        timings = {}
        # Refuses unreadable files, and clips whose header is over the limits, before any model work.
        info = probe(video_path, max_duration=self.max_duration, max_pixels=DEFAULT_MAX_PIXELS)
        fps = float(self.config.sample_fps)
        expected_frames = max(1, round(info.duration * fps))
        done = 0

        def frame_done():
            nonlocal done
            done += 1
            if done % 10 == 0:
                report(min(done / expected_frames, 1.0), "pose")

        report(0.0, "pose")
        # The overlay is drawn from the same decode as pose, beside it; only its tail is left after the model.
        overlay = (SkeletonOverlay(overlay_path, info, layout=self.backend.layout, sample_fps=fps)
                   if overlay_path is not None else None)
        try:
            sequence = extract_clip(video_path, _ProgressBackend(self.backend, frame_done), fps,
                                    max_duration=self.max_duration, observer=overlay, crop=crop)
            timings["pose"] = time.perf_counter() - started
            detected = int(sequence.detected.sum())
            if detected == 0:
                raise NoPersonError(f"{video_path}: nobody found in any of its {len(sequence)} frames "
                                    f"(at {fps:g} fps)")
            report(0.0, "windows")
            result = self.recognize_sequence(sequence.model_coordinates(self.config.num_channels), sequence.layout,
                                             sequence.fps, sequence.detected, frame_size=sequence.frame_size,
                                             timings=timings, on_windows=lambda: report(0.0, "model"))
            if len(result.windows) == 0:
                raise NoPersonError(f"{video_path}: a person was found in only {detected} of {len(sequence)} "
                                    "frames, too few for one window; film the whole body for longer")
            if overlay is not None:
                report(0.0, "overlay")
                step = time.perf_counter()
                overlay.finish(lambda fraction: report(fraction, "overlay"))
                timings["overlay"] = time.perf_counter() - step
        except BaseException:
            if overlay is not None:
                overlay.abort()
            raise
        windows, probabilities = result.windows, result.probabilities
        labels = self.labels
        ranked = np.argsort(-result.clip_scores)[:max(1, top_k)]
        top = [ClassScore(labels[i], result.clip_scores[i]) for i in ranked]
        window_scores = [WindowScore(start, end, labels[int(row.argmax())], row.max())
                         for (start, end), row in zip(windows.spans, probabilities)]
        followed = sequence.followed_spans()  # None from a single-person backend
        prediction = Prediction(
            top_k=top, windows=window_scores, segments=result.segments, verdict=result.verdict,
            exercise=result.exercise,
            reps=sum(segment.reps for segment in result.segments
                     if segment.verdict == result.verdict and segment.exercise == result.exercise),
            abstain=result.abstain, frames=len(sequence), detected_frames=detected,
            seconds=time.perf_counter() - started, timings=timings,
            fps=sequence.fps, backend=self.backend.name, model=self.model_name,
            overlay_path=str(overlay_path) if overlay_path is not None else None,
            window_probabilities=probabilities, class_names=labels, people_seen=sequence.people_seen(),
            followed=None if followed is None else [FollowedSpan(*span) for span in followed],
        )
        if overlay_path is not None:
            write_captions(caption_cues(prediction), captions_path(overlay_path))
        report(1.0, "done")
        return prediction


__all__ = ["DEFAULT_MODEL_DIR", "FORM_MODEL_FILE", "SHIPPED_MODELS", "STAGES", "NoPersonError", "Prediction", "Recognizer",
           "SequenceResult", "load_model", "name_clip", "resolve_model_dir", "window_probabilities",
           "window_probabilities_and_similarities"]
