"""The `mmpose` backend (the paper's): an RTMPose 2D model lifted to 3D Human3.6M joints by MotionBERT.

Needs the MMPose extra (requirements-mmpose.txt, recipes in docs/mmpose.md); importing gym_gesture
never does, the registry imports this module only when the backend is picked.

Per frame:
1. 2D, top-down without a detector: RTMPose runs on the person box, which is the whole frame at the
   start of a clip (and after the person was lost) and otherwise the box around the previous frame's
   keypoints. One person per clip (the gym case), and no detector model to install or download.
2. 3D: the lifter runs on a causal window of the recent 2D poses ending at the current frame, so the
   backend streams frame by frame. Sequence-to-sequence lifters (MotionBERT: `multiple_target` in its
   config) see up to `lifter_context` past frames (default: the length they were trained on, 243) and
   the current frame's output is taken. Single-target lifters (VideoPose3D) get the window MMPose
   itself builds at the last frame of a video: their `seq_len` frames around the current one, the
   frames not yet seen padded with the current frame. Frames without a person do not enter the window.

Output layout: `h36m17` with the lifter, keypoints in the lifter's root-relative camera coordinates
(x right, y down, z away from the camera; MotionBERT puts the pelvis at 0); `coco17` without it
(`lifter_model=None`), keypoints (x / width, y / height, 0) like MediaPipe's image landmarks.
`image_points` are pixels from the 2D model in the output layout (H36M joints that COCO lacks, e.g.
the pelvis, derived by `skeleton.convert`), `scores` the 2D model's confidences clipped to [0, 1].

Weights: by default ("openmmlab") the checkpoints that MMPose's model index lists for the models,
downloaded once into torch hub's checkpoint cache, where mmengine's `load_from_http` keeps them; offline
without them, `MissingCheckpointError` names each file, its URL and where to put it. A checkpoint path or
URL may be given instead. Random weights only with `random_weights=True`, for tests.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ..model.skeleton import convert
from .base import PoseBackend, PoseFrame

logger = logging.getLogger(__name__)

DEFAULT_POSE2D_MODEL = "rtmpose-m_8xb256-420e_body8-256x192"  # MMPose's "human" alias
DEFAULT_LIFTER_MODEL = "human3d"  # MotionBERT fine-tuned on Human3.6M
OPENMMLAB_WEIGHTS = "openmmlab"
INSTALL_HINT = "install the MMPose extra (requirements-mmpose.txt) as described in docs/mmpose.md"
# The person box for the next frame: the keypoints' extent enlarged by this factor.
BOX_MARGIN = 1.25


def _import_mmpose():
    try:
        import mmpose.apis as apis
        from mmengine.infer import BaseInferencer
    except ImportError as error:
        raise ImportError(f"the mmpose pose backend needs MMPose ({error}): {INSTALL_HINT}") from error
    return apis, BaseInferencer


def resolve_model(model: str, weights: str | None) -> tuple[str, str | None]:
    """(config file, checkpoint or None) for a config path or a model name/alias of MMPose's model index."""
    _, BaseInferencer = _import_mmpose()
    if Path(model).is_file():
        config, published = model, None
    else:
        mim_dir = BaseInferencer._get_repo_or_mim_dir("mmpose")
        for entry in BaseInferencer._get_models_from_metafile(mim_dir):
            aliases = entry.get("Alias", [])
            names = {entry["Name"].lower(), *(a.lower() for a in ([aliases] if isinstance(aliases, str) else aliases))}
            if model.lower() in names:
                config, published = str(Path(mim_dir) / entry["Config"]), entry["Weights"]
                break
        else:
            raise ValueError(f"unknown MMPose model {model!r}: give a config file or a name from MMPose's model index")
    if weights == OPENMMLAB_WEIGHTS:
        if published is None:
            raise ValueError(f"{model!r} is a config file, not a model of MMPose's index: give its checkpoint")
        weights = published[0] if isinstance(published, list) else published
    return config, weights


def checkpoint_cache_dir() -> Path:
    """Torch hub's checkpoint cache ($TORCH_HOME/hub/checkpoints), where mmengine's `load_from_http` keeps
    what it downloads: a file already there (put by mmengine, by this backend or by hand) is used as is."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _is_url(checkpoint: str | None) -> bool:
    return checkpoint is not None and urlparse(checkpoint).scheme in ("http", "https")


class MissingCheckpointError(FileNotFoundError):
    """Checkpoints that are neither in the cache nor downloadable (offline): each file, its URL, its place."""

    def __init__(self, reason: OSError, missing: list[tuple[str, Path]]):
        files = "\n".join(f"  {path.name}\n    from {url}\n    to   {path}" for url, path in missing)
        super().__init__(
            f"the mmpose backend cannot download its weights ({reason}). Download these files on a machine "
            f"with internet access and put them in {missing[0][1].parent} (torch hub's checkpoint cache; "
            f"TORCH_HOME moves it), or pass local checkpoint paths as pose2d_weights / lifter_weights:\n{files}")
        self.missing = missing


def local_checkpoints(checkpoints: list[str | None]) -> list[str | None]:
    """The checkpoints as local files: a URL becomes its file in the cache, downloaded first if it is not
    there yet; paths and None pass through. Files are fetched before any model is built, so an offline
    machine is told about all of them at once."""
    import torch.hub

    cache = checkpoint_cache_dir()
    local = [str(cache / Path(urlparse(checkpoint).path).name) if _is_url(checkpoint) else checkpoint
             for checkpoint in checkpoints]
    missing = [(url, Path(path)) for url, path in zip(checkpoints, local) if _is_url(url) and not Path(path).is_file()]
    for done, (url, path) in enumerate(missing):
        logger.info("mmpose backend: downloading %s to %s", url, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # torch hub's own download (mmengine's too): a partial file is never left at `path`.
            torch.hub.download_url_to_file(url, str(path))
        except OSError as error:
            raise MissingCheckpointError(error, missing[done:]) from error
    return local


class MMPoseBackend(PoseBackend):
    name = "mmpose"

    def __init__(
        self,
        pose2d_model: str = DEFAULT_POSE2D_MODEL,
        pose2d_weights: str = OPENMMLAB_WEIGHTS,
        lifter_model: str | None = DEFAULT_LIFTER_MODEL,
        lifter_weights: str = OPENMMLAB_WEIGHTS,
        device: str | None = None,
        score_threshold: float = 0.3,
        lifter_context: int | None = None,
        random_weights: bool = False,
    ):
        """Weights: a checkpoint path or URL, or "openmmlab" for the model index's. `random_weights=True`
        builds untrained models and reads no checkpoint: for tests only."""
        models = [(pose2d_model, pose2d_weights)] + ([] if lifter_model is None else [(lifter_model, lifter_weights)])
        if not random_weights and any(weights is None for _, weights in models):
            raise ValueError("mmpose backend: no weights given; pass a checkpoint path or URL, or "
                             f"{OPENMMLAB_WEIGHTS!r} (random weights only with random_weights=True, for tests)")
        apis, _ = _import_mmpose()
        import torch

        self._apis = apis
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.score_threshold = score_threshold
        resolved = [resolve_model(model, None if random_weights else weights) for model, weights in models]
        if random_weights:
            logger.warning("mmpose backend: random weights (random_weights=True), for tests only")
        checkpoints = local_checkpoints([checkpoint for _, checkpoint in resolved])
        self.pose2d, *lifter = [apis.init_model(config, checkpoint, device=self.device)
                                for (config, _), checkpoint in zip(resolved, checkpoints)]
        self.lifter = lifter[0] if lifter else None
        self.layout = "coco17" if self.lifter is None else "h36m17"
        self._pose2d_dataset = self.pose2d.dataset_meta["dataset_name"]
        if self.pose2d.dataset_meta["num_keypoints"] != 17:
            raise ValueError(f"the 2D model {pose2d_model!r} must predict the 17 COCO keypoints")
        if self.lifter is not None:
            dataset_cfg = self.lifter.cfg.test_dataloader.dataset
            self._lifter_causal = dataset_cfg.get("causal", False)
            self._lifter_seq_len = dataset_cfg.get("seq_len", 1)
            self._lifter_seq2seq = bool(dataset_cfg.get("multiple_target", 0))
            if self._lifter_seq2seq:
                window = lifter_context or dataset_cfg.multiple_target
            else:
                window = self._lifter_seq_len if self._lifter_causal else self._lifter_seq_len // 2 + 1
            self._window: deque = deque(maxlen=window)
            from mmengine.dataset import Compose

            self._lifter_pipeline = Compose(self.lifter.cfg.test_dataloader.dataset.pipeline)
        self.reset()

    def reset(self) -> None:
        self._person_box = None
        if self.lifter is not None:
            self._window.clear()

    def close(self) -> None:
        self.pose2d = self.lifter = None

    def __call__(self, frame_rgb: np.ndarray) -> PoseFrame:
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        height, width = frame_rgb.shape[:2]
        bboxes = None if self._person_box is None else self._person_box[None]
        # MMPose's models take BGR images, as read by OpenCV.
        result = self._apis.inference_topdown(self.pose2d, np.ascontiguousarray(frame_rgb[..., ::-1]), bboxes)[0]
        points = result.pred_instances.keypoints[0].astype(np.float32)  # (17, 2) COCO order, pixels
        scores = np.clip(result.pred_instances.keypoint_scores[0], 0.0, 1.0).astype(np.float32)
        if scores.mean() < self.score_threshold:
            self._person_box = None
            return self._no_person()
        self._person_box = self._box_around(points, scores, width, height)

        if self.lifter is None:
            keypoints = np.concatenate([points / [width, height], np.zeros((len(points), 1))], axis=1)
            return PoseFrame(keypoints.astype(np.float32), points, scores, True)
        keypoints = self._lift(result, width, height)
        image_points = convert(points, "coco17", self.layout)
        h36m_scores = convert(scores[:, None], "coco17", self.layout)[:, 0]
        return PoseFrame(keypoints, image_points, h36m_scores, True)

    def _lift(self, result, width: int, height: int) -> np.ndarray:
        """3D keypoints (17, 3) of the current frame from the window of recent 2D poses."""
        sample = result.clone()
        sample.pred_instances.keypoints = self._apis.convert_keypoint_definition(
            result.pred_instances.keypoints, self._pose2d_dataset, self.lifter.dataset_meta["dataset_name"]
        )
        sample.track_id = 0
        self._window.append([sample])
        frames = list(self._window)
        if not self._lifter_seq2seq:
            frames = self._apis.extract_pose_sequence(
                frames, frame_idx=len(frames) - 1, causal=self._lifter_causal, seq_len=self._lifter_seq_len
            )
        if self._lifter_seq2seq:
            lifted = self._lift_window(frames, width, height)
        else:
            lifted = self._apis.inference_pose_lifter_model(
                self.lifter, frames, with_track_id=False, image_size=(width, height)
            )[0]
        keypoints = np.asarray(lifted.pred_instances.keypoints, dtype=np.float32).reshape(-1, 17, 3)
        # Sequence-to-sequence lifters return every frame of the window, the others its target frame.
        current = len(self._window) - 1 if self._lifter_seq2seq else 0
        return keypoints[current]

    def _lift_window(self, frames: list, width: int, height: int):
        """A sequence-to-sequence lifter on the whole window at once.

        MMPose's `inference_pose_lifter_model` packs a single lifting target, which MotionBERT's codec
        cannot combine with more than one input frame (MMPose's own MotionBERT inference lifts frame by
        frame); packed here with per-frame targets, the window goes through the model's own pipeline.
        """
        import torch
        from mmengine.dataset import pseudo_collate

        keypoints = np.stack([frame[0].pred_instances.keypoints[0] for frame in frames])  # (T, 17, 2)
        count, joints = keypoints.shape[:2]
        data_info = dict(
            keypoints=keypoints,
            keypoints_visible=np.ones((count, joints), np.float32),
            lifting_target=np.zeros((count, joints, 3), np.float32),
            lifting_target_visible=np.ones((count, joints, 1), np.float32),
            factor=np.zeros(count, np.float32),
            camera_param=dict(w=width, h=height),
            **self.lifter.dataset_meta,
        )
        with torch.no_grad():
            return self.lifter.test_step(pseudo_collate([self._lifter_pipeline(data_info)]))[0]

    def _box_around(self, points: np.ndarray, scores: np.ndarray, width: int, height: int) -> np.ndarray | None:
        """Next frame's person box (x0, y0, x1, y1): the confident keypoints' extent with a margin."""
        confident = points[scores >= self.score_threshold]
        if len(confident) < 2:
            return None
        center = (confident.min(0) + confident.max(0)) / 2
        half = (confident.max(0) - confident.min(0)) * BOX_MARGIN / 2
        box = np.concatenate([center - half, center + half]).clip(0, [width, height, width, height])
        if (box[2:] - box[:2]).min() < 2:
            return None
        return box.astype(np.float32)

    def _no_person(self) -> PoseFrame:
        joints = 17
        return PoseFrame(
            np.full((joints, 3), np.nan, np.float32),
            np.full((joints, 2), np.nan, np.float32),
            np.zeros(joints, np.float32),
            False,
        )
