"""The interface every pose backend implements, and the registry that picks one by name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError, MissingExtraError

# Everyone a frame shows: track -> (image points (J, 2), scores (J,)), and the followed track (None: nobody).
PeopleInView = tuple[dict[int, tuple[np.ndarray, np.ndarray]], int | None]


@dataclass
class PoseFrame:
    """One frame's pose of one person.

    keypoints:    (J, 3) the backend's coordinates in its `layout` (NaN where no person was found).
    image_points: (J, 2) pixel coordinates in the input frame, for drawing.
    scores:       (J,) per-joint confidence in [0, 1] (0 where no person was found).
    detected:     whether a person was found.
    """

    keypoints: np.ndarray
    image_points: np.ndarray
    scores: np.ndarray
    detected: bool

    def people_in_view(self) -> PeopleInView:
        """Everyone this frame shows, by track: from a single-person backend, its one person (track 0, followed)
        when found."""
        return ({0: (self.image_points, self.scores)}, 0) if self.detected else ({}, None)


class PoseBackend:
    """A pose estimator called frame by frame on RGB uint8 images (H, W, 3).

    Subclasses set `name` and `layout` (a name from `gym_gesture.model.skeleton.LAYOUTS`) and implement
    `__call__`. Backends may keep state across frames (tracking, smoothing): call `reset()` between
    clips, and `close()` (or use `with`) to free the model.
    """

    name: str = ""
    layout: str = ""

    def __call__(self, frame_rgb: np.ndarray) -> PoseFrame:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the state carried from the previous frames (start of a new clip)."""

    def set_frame_rate(self, fps: float) -> None:
        """Frames will come at `fps`: for a backend whose state across frames is timed in seconds (tracks
        of people), before `reset`. Backends without such state ignore it."""

    def close(self) -> None:
        """Free the model."""

    def __enter__(self) -> "PoseBackend":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# name -> "module:class", imported on first use so that optional heavy dependencies (mmpose)
# are needed only by whoever picks that backend.
POSE_BACKENDS: dict[str, str] = {}


def register_backend(name: str, target: str) -> None:
    POSE_BACKENDS[name] = target


def create_backend(name: str, **kwargs) -> PoseBackend:
    if name not in POSE_BACKENDS:
        raise InputError(f"unknown pose backend {name!r}; available: {', '.join(sorted(POSE_BACKENDS))}")
    module_name, class_name = POSE_BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    try:
        return backend_class(**kwargs)
    except ImportError as error:  # the backend's optional extra is not installed; its message says how to
        raise MissingExtraError(str(error)) from error
