"""The skeleton drawn over the clip: bones and joints, low-confidence joints faded, at the clip's own frame
rate, written during the one decode that feeds the pose backend (from a multi-person backend, everyone in
view: the person followed in color, the others in grey, once the choice is made); its captions (the verdict
of each segment) as a WebVTT track beside it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..pose.base import PeopleInView, PoseFrame
from ..model.skeleton import get_layout
from ..pose.tracking import PeopleTracks
from ..pose.video import ClipFrame, VideoInfo, VideoWriter, read_ahead, read_clip

# RGB colors by body side, so a mirrored or swapped skeleton is visible at a glance.
_LEFT = (255, 140, 0)
_RIGHT = (0, 160, 255)
_CENTER = (230, 230, 230)
# Everyone in view but the person followed: one mid grey, set apart from the light grey of the center line.
OTHER_PERSON_GREY = (128, 128, 128)
FADED_OPACITY = 0.3
MAX_OVERLAY_SIDE = 720
# A preview, not an archive, and every frame of the clip now: "ultrafast" encodes 720p about 2.5x faster
# than "superfast" (90 frames: 1.3 against 3.9 s on the loaded 2-core machine) for files about 3x larger
# at the same constant quality (crf 23), a few Mbit/s.
OVERLAY_PRESET = "ultrafast"


def _side_color(*joints: str) -> tuple[int, int, int]:
    if all(joint.startswith("left_") for joint in joints):
        return _LEFT
    if all(joint.startswith("right_") for joint in joints):
        return _RIGHT
    return _CENTER


def draw_pose(image: np.ndarray, image_points: np.ndarray, scores: np.ndarray, layout: str, *,
              min_score: float = 0.5, color: tuple[int, int, int] | None = None) -> np.ndarray:
    """A copy of `image` (RGB uint8) with the pose drawn on it.

    image_points (J, 2) are pixels (NaN: not drawn); joints scoring under `min_score`, and bones
    touching them, are drawn faded. Bones and joints are colored by body side, or all in `color`
    (`OTHER_PERSON_GREY`: someone in view who is not followed).
    """
    skeleton = get_layout(layout)
    if image_points.shape != (skeleton.num_joints, 2) or scores.shape != (skeleton.num_joints,):
        raise ValueError(f"layout {layout!r} has {skeleton.num_joints} joints, got points "
                         f"{image_points.shape} and scores {scores.shape}")
    height, width = image.shape[:2]
    thickness = max(2, round(min(height, width) / 200))
    radius = thickness + 1
    result = image.copy()
    drawn = np.isfinite(image_points).all(axis=1)
    if drawn.any():
        points = np.round(np.nan_to_num(image_points)).astype(np.int32)
        # Only the skeleton's bounding box changes (plus the strokes' reach, anti-aliasing included):
        # blending and comparing that box rather than the whole frame is most of the overlay's speed.
        reach = radius + 2
        left, top = np.maximum(points[drawn].min(axis=0) - reach, 0)
        right, bottom = np.minimum(points[drawn].max(axis=0) + reach + 1, (width, height))
        if left < right and top < bottom:
            box = (slice(top, bottom), slice(left, right))
            result[box] = _draw_skeleton(image[box], points - (left, top), drawn, drawn & (scores >= min_score),
                                         skeleton, thickness, radius, color)
    return result


def draw_people(image: np.ndarray, people: PeopleInView, layout: str, *, min_score: float = 0.5) -> np.ndarray:
    """`image` with everyone in `people` (`PoseFrame.people_in_view`) drawn: the followed person by body side,
    over the others in grey; `image` itself when nobody is in view."""
    poses, followed = people
    for track in sorted(poses, key=lambda track: track == followed):  # the followed person drawn last, on top
        image = draw_pose(image, *poses[track], layout, min_score=min_score,
                          color=None if track == followed else OTHER_PERSON_GREY)
    return image


def _draw_skeleton(image, points, drawn, confident, skeleton, thickness, radius, color) -> np.ndarray:
    """`image` with the bones and joints drawn in `color` (None: by body side): solid where `confident`,
    else faded."""
    solid, faded = image.copy(), image.copy()
    for (a, b), (name_a, name_b) in zip(skeleton.bone_indices, skeleton.bones):
        if drawn[a] and drawn[b]:
            layer = solid if confident[a] and confident[b] else faded
            cv2.line(layer, tuple(map(int, points[a])), tuple(map(int, points[b])),
                     color or _side_color(name_a, name_b), thickness, cv2.LINE_AA)
    for joint, name in enumerate(skeleton.joints):
        if drawn[joint]:
            layer = solid if confident[joint] else faded
            cv2.circle(layer, tuple(map(int, points[joint])), radius, color or _side_color(name), -1, cv2.LINE_AA)
    # Faded strokes are blended into the picture; solid ones are painted over them at full strength.
    result = cv2.addWeighted(faded, FADED_OPACITY, image, 1 - FADED_OPACITY, 0)
    changed = solid != image
    painted = changed[..., 0] | changed[..., 1] | changed[..., 2]  # numpy's any(axis=2) is several times slower
    np.copyto(result, solid, where=painted[..., None])
    return result


class SkeletonOverlay:
    """The overlay video, written while `pose.sequence.extract_clip` runs the pose backend (its `observer`):
    every decoded frame of the clip, at most 720p, with the pose interpolated between the two resampled
    frames around it, so the overlay plays at the clip's own rate from the clip's one decode. A frame
    waits only for the next pose; drawing and encoding run in a thread beside the pose backend.

        overlay = SkeletonOverlay("out.mp4", probe(clip), layout=backend.layout, sample_fps=10)
        sequence = extract_clip(clip, backend, 10, observer=overlay)
        overlay.finish()   # or overlay.abort() on an error

    From a multi-person backend everyone is drawn, the person followed in color, as the backend follows them
    during pose: from the seconds before each frame, as live mode does. The clip's choice is made over the
    whole clip after its last frame (`exerciser_chosen`, as `followed`), and a preview of every frame cannot
    wait that long in memory (a minute of 720p is 5 GB): where the two choices differ, `finish` decodes the
    clip a second time, its previews only, and draws it again. A single-person backend's overlay, and a
    multi-person one's where the choices agree (most clips: one person in view, or an exerciser clear from
    the start), cost no more.
    """

    def __init__(self, out_path: str | Path, info: VideoInfo, *, layout: str, sample_fps: float,
                 min_score: float = 0.5):
        scale = min(1.0, MAX_OVERLAY_SIDE / max(1, min(info.width, info.height)))
        # Even sizes: H.264's 4:2:0 needs them, and the scaler then gives exactly what is encoded.
        self.preview_size = (max(2, round(info.width * scale) // 2 * 2), max(2, round(info.height * scale) // 2 * 2))
        self._scale = np.array([self.preview_size[0] / max(1, info.width), self.preview_size[1] / max(1, info.height)],
                               np.float32)
        self.path, self.video_path, self.fps = Path(out_path), info.path, info.fps or sample_fps
        self.layout, self.sample_fps, self.min_score = layout, sample_fps, min_score
        self.frames_seen = 0
        self._followed_drawn: list[int | None] = []  # whom the backend followed in each resampled frame
        self._redraw: tuple[PeopleTracks, np.ndarray] | None = None  # the clip's choice, where it differs
        self._start()

    def _start(self) -> None:
        """A new encoder, writing the file from its first frame."""
        self.frames_written = 0
        self._writer = VideoWriter(self.path, self.fps, preset=OVERLAY_PRESET)
        self._pending: list[ClipFrame] = []
        self._previous: tuple[float, PeopleInView] | None = None  # time and people of the last pose
        self._frames: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._encode, name="overlay", daemon=True)
        self._thread.start()

    def __call__(self, frame: ClipFrame, poses: list[PoseFrame]) -> None:
        self.frames_seen += 1
        self._followed_drawn += [pose.people_in_view()[1] for pose in poses]
        self._show(frame, poses[0].people_in_view() if poses else None)

    def exerciser_chosen(self, people: PeopleTracks, followed: np.ndarray) -> None:
        """From a multi-person backend, after the last frame: everyone's tracks and the track followed in each
        resampled frame (-1: nobody), chosen over the whole clip; `finish` draws the clip again where that
        differs from whom the backend followed."""
        if [None if track < 0 else int(track) for track in followed] != self._followed_drawn:
            self._redraw = people, followed

    def _show(self, frame: ClipFrame, people: PeopleInView | None) -> None:
        """Queue `frame`, and those waiting for a pose, once `people` (of its first resampled frame) are known."""
        self._pending.append(frame)
        if people is None:
            return
        poses, followed = people
        current = (frame.samples[0] / self.sample_fps,
                   ({track: (points * self._scale, scores) for track, (points, scores) in poses.items()}, followed))
        for waiting in self._pending:
            self._put(waiting.preview, self._people_at(waiting.time, current))
        self._pending, self._previous = [], current

    def _people_at(self, time: float, current: tuple[float, PeopleInView]) -> PeopleInView:
        """Everyone at `time` (s) between the previous pose and `current`: the joints of a person seen in both
        move linearly; others, and who is followed, are the nearer pose's."""
        if self._previous is None:
            return current[1]
        (start, (before, followed_before)), (end, (after, followed_after)) = self._previous, current
        alpha = float(np.clip((time - start) / (end - start), 0.0, 1.0)) if end > start else 1.0
        nearer, followed = (before, followed_before) if alpha < 0.5 else (after, followed_after)
        people = {}
        for track, (points, scores) in nearer.items():
            if track in before and track in after:
                both = (np.isfinite(before[track][0]).all(axis=1) & np.isfinite(after[track][0]).all(axis=1))[:, None]
                points = np.where(both, before[track][0] + alpha * (after[track][0] - before[track][0]), points)
            people[track] = points, scores
        return people, followed

    def _put(self, image: np.ndarray, people: PeopleInView) -> None:
        while self._thread.is_alive():
            try:
                self._frames.put((image, people), timeout=0.1)
                return
            except queue.Full:
                pass
        self._raise()

    def _encode(self) -> None:
        try:
            while (item := self._frames.get()) is not None:
                image, people = item
                self._writer.write(draw_people(image, people, self.layout, min_score=self.min_score))
                self.frames_written += 1
            self._writer.close()
        except BaseException as error:  # noqa: BLE001 (handed to the pose thread and raised there)
            self._error = error

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
        raise RuntimeError("the overlay's encoder stopped")

    def _report(self, progress: Callable[[float], None] | None) -> None:
        if progress:
            progress(self.frames_written / max(1, self.frames_seen))

    def _draw_again(self, progress: Callable[[float], None] | None) -> None:
        """The clip drawn again from a second decode, the person followed as chosen over the whole clip. The
        first decode enforced the clip's limits."""
        self._stop()
        self._start()
        tracks, followed = self._redraw
        for frame in read_ahead(read_clip(self.video_path, self.sample_fps, preview_size=self.preview_size,
                                          max_duration=None, max_pixels=None)):
            sample = frame.samples[0] if frame.samples and frame.samples[0] < tracks.num_frames else None
            self._show(frame, None if sample is None else
                       (tracks.in_frame(sample), int(followed[sample]) if followed[sample] >= 0 else None))
            self._report(progress)

    def finish(self, progress: Callable[[float], None] | None = None) -> Path:
        """Draw the frames after the last pose (all of them again, from a second decode, where the clip's choice
        of whom to follow differs from the backend's), wait for the encoder (`progress(fraction of frames
        written)` as it goes) and close the file."""
        if self._redraw is not None:
            self._draw_again(progress)
        people = self._previous[1] if self._previous else ({}, None)
        for waiting in self._pending:
            self._put(waiting.preview, people)
        self._pending = []
        self._stop(progress)
        if self._error is not None:
            self.path.unlink(missing_ok=True)
            raise self._error
        return self.path

    def _stop(self, progress: Callable[[float], None] | None = None) -> None:
        """Let the encoder write what it holds and close the file."""
        self._put_end()
        while self._thread.is_alive():
            self._thread.join(timeout=0.1)
            self._report(progress)

    def abort(self) -> None:
        """Stop the encoder and remove the partial file."""
        self._pending = []
        self._put_end()
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def _put_end(self) -> None:
        while self._thread.is_alive():
            try:
                self._frames.put(None, timeout=0.1)
                return
            except queue.Full:
                pass


def captions_path(overlay_path: str | Path) -> Path:
    """Where the captions of an overlay go: beside it, `.vtt` for `.mp4` (video players load it by name)."""
    return Path(overlay_path).with_suffix(".vtt")


def write_captions(cues: list[tuple[float, float, str]], path: str | Path) -> Path:
    """The cues (start s, end s, text) as a WebVTT file: the caption track the app's player shows under
    the overlay, and which video players load beside `--overlay`'s file."""
    def stamp(seconds: float) -> str:
        minutes, seconds = divmod(max(0.0, seconds), 60)
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours:02d}:{minutes:02d}:{seconds:06.3f}"

    blocks = [f"{stamp(start)} --> {stamp(end)}\n{text}" for start, end, text in cues]
    path = Path(path)
    path.write_text("WEBVTT\n\n" + "\n\n".join(blocks) + "\n")
    return path
