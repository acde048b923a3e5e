"""A pose backend run over a whole clip: the pose sequence every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .video import DEFAULT_MAX_VIDEO_DURATION_S, DEFAULT_MAX_PIXELS, ClipFrame, read_ahead, read_clip, read_frames
from .base import PoseBackend, PoseFrame
from .exerciser import choose_exerciser
from .tracking import PeopleFrame, PeopleTracks, gap_frames


@dataclass
class PoseSequence:
    """One clip's poses, frame by frame at `fps`.

    keypoints (T, J, 3) in the backend's `layout`, NaN where no person; image_points (T, J, 2) pixels
    in the upright frame of `width` x `height`; scores (T, J); detected (T,) bool.
    From a backend that sees everyone in view (`mediapipe-people`), these are the person exercising's (the
    followed track's in each frame), `people` holds everyone's tracks and `followed` (T,) the track
    followed in each frame (-1: nobody).
    """

    keypoints: np.ndarray
    image_points: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    fps: float
    width: int
    height: int
    layout: str
    backend: str
    people: PeopleTracks | None = None
    followed: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.detected)

    @property
    def detection_rate(self) -> float:
        return float(self.detected.mean()) if len(self) else 0.0

    def people_seen(self, min_seconds: float = 1.0) -> int | None:
        """How many people were in view: the tracks seen for at least `min_seconds` (a person glimpsed less is
        not counted), a person whom the tracker cut into several such tracks counted once
        (`PeopleTracks.people`); None from a single-person backend."""
        if self.people is None:
            return None
        return len(self.people.people(gap_frames(self.fps), min_seen=round(min_seconds * self.fps)))

    def followed_spans(self) -> list[tuple[int, float, float]] | None:
        """Which track was followed when: (track, start s, end s) for each run of frames that follow one track
        (nobody followed: no span); None from a single-person backend."""
        if self.followed is None:
            return None
        changes = np.flatnonzero(np.diff(self.followed)) + 1
        starts, ends = np.concatenate([[0], changes]), np.concatenate([changes, [len(self.followed)]])
        return [(int(self.followed[start]), start / self.fps, end / self.fps)
                for start, end in zip(starts, ends) if self.followed[start] >= 0]

    def model_coordinates(self, num_channels: int) -> np.ndarray:
        """The keypoints a model of `num_channels` channels reads (its config's geometry): 2, the image
        plane, x and y normalized to the frame's width and height, which every backend and keypoint source
        has (MMPose's 3-D lifter included); 3, the backend's own x, y, z (MediaPipe's relative depth). A
        2-channel model's processor scales them to its `image_scale`, given `frame_size`."""
        if num_channels > 2:
            return self.keypoints
        image_plane = self.image_points / np.array([max(self.width, 1), max(self.height, 1)], np.float32)
        return np.where(np.isnan(self.keypoints[..., :1]), np.nan, image_plane).astype(np.float32)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.width, self.height


class FrameObserver(Protocol):
    """What `extract_clip` shows every decoded frame to (the skeleton overlay, `overlay.SkeletonOverlay`)."""

    preview_size: tuple[int, int]  # (width, height) of the frames it wants, upright

    def __call__(self, frame: ClipFrame, poses: list[PoseFrame]) -> None:
        """`frame` (with its `preview`) and the poses of its resampled frames (`frame.samples`), in order."""

    def exerciser_chosen(self, people: PeopleTracks, followed: np.ndarray) -> None:
        """From a multi-person backend, after the last frame: everyone's tracks and the track followed in each
        resampled frame (-1: nobody), chosen over the whole clip."""


def _cropped(image: np.ndarray, crop: tuple[float, float, float, float] | None) -> np.ndarray:
    if crop is None:
        return image
    height, width = image.shape[:2]
    left, top, right, bottom = crop
    return np.ascontiguousarray(image[round(top * height):round(bottom * height), round(left * width):round(right * width)])


def extract_clip(video_path: str | Path, backend: PoseBackend, fps: float | None = 30.0, *,
                 max_duration: float | None = DEFAULT_MAX_VIDEO_DURATION_S,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 observer: FrameObserver | None = None,
                 crop: tuple[float, float, float, float] | None = None) -> PoseSequence:
    """Run `backend` over the clip's frames resampled to `fps` (None: the clip's own frames).

    The backend is told the rate (`set_frame_rate`) and reset first, so no smoothing or tracking state
    leaks in from a previous clip.
    Frames are decoded a few at a time, in a thread beside the backend (`read_ahead`); only the pose
    arrays grow with the clip's length. `observer` (with an `fps`) sees every decoded frame of that one
    decode, with the poses found on it, so that the overlay needs no second decode; from a multi-person
    backend it is then told whom the clip follows (`exerciser_chosen`). `crop` (left, top,
    right, bottom as fractions of the upright frame) keeps one part of every frame, as if the clip had
    been filmed so: one view of a split-screen clip.
    """
    if crop is not None and observer is not None:
        raise ValueError("an observer draws on whole frames: no crop with an observer")
    if fps is not None:
        backend.set_frame_rate(fps)
    backend.reset()
    poses: list[PoseFrame] = []
    width = height = 0
    if fps is None:
        if observer is not None:
            raise ValueError("an observer needs a resampling rate (fps)")
        times = []
        for frame in read_ahead(read_frames(video_path, None, max_duration=max_duration, max_pixels=max_pixels)):
            image = _cropped(frame.image, crop)
            height, width = image.shape[:2]
            poses.append(backend(image))
            times.append(frame.time)
        # The clip's own rate, from its timestamps (the median step copes with a stray frame).
        fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 30.0
    else:
        preview_size = observer.preview_size if observer is not None else None
        for frame in read_ahead(read_clip(video_path, fps, preview_size=preview_size, max_duration=max_duration,
                                          max_pixels=max_pixels)):
            image = _cropped(frame.image, crop) if frame.samples else None
            found = [backend(image) for _ in frame.samples]
            if found:
                height, width = image.shape[:2]
                poses += found
            if observer is not None:
                observer(frame, found)
    people = followed = None
    if poses and isinstance(poses[0], PeopleFrame):
        people = PeopleTracks.from_frames(poses)
        followed = choose_exerciser(people, backend.layout, fps, (width, height))
        if observer is not None:
            observer.exerciser_chosen(people, followed)
        poses = [frame.pose_of(track) for frame, track in zip(poses, followed)]
    return PoseSequence(
        keypoints=np.asarray([pose.keypoints for pose in poses], dtype=np.float32),
        image_points=np.asarray([pose.image_points for pose in poses], dtype=np.float32),
        scores=np.asarray([pose.scores for pose in poses], dtype=np.float32),
        detected=np.asarray([pose.detected for pose in poses], dtype=bool),
        fps=float(fps), width=int(width), height=int(height),
        layout=backend.layout, backend=backend.name, people=people, followed=followed,
    )
