"""MediaPipe Pose (BlazePose, 33 landmarks) on CPU, offline, one person: the default backend (`mediapipe-people`)
runs it on every whole frame, and once more for each other person in view.

Keypoints are MediaPipe's image landmarks (x, y normalized to the frame's width and height, z its
relative depth) with visibility as the score: exactly the format of the `../shared/data/keypoints`
archives. The metric world landmarks (metres, hip-centered) come with each frame as `world_keypoints`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .native_logs import native_logs_silenced
from .base import PoseBackend, PoseFrame

# mediapipe 0.10.21 ships the landmark model of complexity 1 only; the others are fetched from the
# internet the first time they are used.
_LANDMARK_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite",
                    2: "pose_landmark_heavy.tflite"}
NUM_LANDMARKS = 33
# Fed once after each start of the graph: no person, so no state carries over into the clip.
_BLANK_FRAME = np.zeros((64, 64, 3), dtype=np.uint8)


@dataclass
class MediaPipePoseFrame(PoseFrame):
    """A `PoseFrame` plus MediaPipe's world landmarks (J, 3) in metres, NaN where no person."""

    world_keypoints: np.ndarray | None = None


def landmark_model_path(model_complexity: int) -> Path:
    import mediapipe

    if model_complexity not in _LANDMARK_MODELS:
        raise InputError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
    return (Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
            / _LANDMARK_MODELS[model_complexity])


class MediaPipePose(PoseBackend):
    name = "mediapipe"
    layout = "mediapipe33"

    def __init__(self, model_complexity: int = 1, smooth_landmarks: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        model = landmark_model_path(model_complexity)
        if not model.is_file():
            raise InputError(
                f"MediaPipe model_complexity={model_complexity} needs {model.name}, which mediapipe "
                f"downloads at run time and which is not in {model.parent}; this install works offline "
                f"with model_complexity=1 (or copy the file there)")
        self._options = dict(static_image_mode=False, model_complexity=model_complexity,
                             smooth_landmarks=smooth_landmarks,
                             min_detection_confidence=min_detection_confidence,
                             min_tracking_confidence=min_tracking_confidence)
        self._pose = None
        self.reset()

    def reset(self) -> None:
        """A fresh run of the graph: landmark smoothing and tracking never carry over from the previous
        clip. Restarting the graph's run (its calculators open anew) costs about half of building a graph.

        The calculators open on the graph's own threads and log natively as they do (gym_gesture.pose.native_logs):
        processing one blank frame waits for them, with those lines hidden."""
        import mediapipe as mp

        with native_logs_silenced():
            if self._pose is None:
                self._pose = mp.solutions.pose.Pose(**self._options)
            else:
                self._pose.reset()
            self._pose.process(_BLANK_FRAME)
        # MediaPipe logs once more when its landmark model first sees a person.
        self._no_person_yet = True

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __call__(self, frame_rgb: np.ndarray) -> MediaPipePoseFrame:
        if self._pose is None:
            raise ValueError("the MediaPipe backend is closed")
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        height, width = frame_rgb.shape[:2]
        with native_logs_silenced() if self._no_person_yet else nullcontext():
            result = self._pose.process(frame_rgb)
        if result.pose_landmarks is None:
            missing = np.full((NUM_LANDMARKS, 3), np.nan, dtype=np.float32)
            return MediaPipePoseFrame(missing, np.full((NUM_LANDMARKS, 2), np.nan, dtype=np.float32),
                                      np.zeros(NUM_LANDMARKS, dtype=np.float32), False, missing.copy())
        self._no_person_yet = False
        landmarks = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark],
                             dtype=np.float32)
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark],
                         dtype=np.float32)
        image_points = landmarks[:, :2] * np.array([width, height], dtype=np.float32)
        return MediaPipePoseFrame(landmarks[:, :3], image_points, landmarks[:, 3], True, world)
