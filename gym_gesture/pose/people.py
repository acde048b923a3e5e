"""MediaPipe Pose for everyone in view, on CPU and offline, with the model files the mediapipe wheel ships.

Today's single-person backend (`MediaPipePose`) still sees every whole frame, as before: with one person
in view the landmarks are exactly its landmarks. On a clip's first frame, and then every `DETECT_EVERY_S`
seconds, MediaPipe's person detector (`pose_detection.tflite`, run alone as the wheel's `PoseDetectionCpu`
graph) looks for people nobody follows yet: in every region of the frame at first, then in one region in
turn (the whole frame, and for a wide frame its left and right squares: the detector sees a 224-pixel
picture, in which a person half the frame's height is too small on a whole 16:9 frame). Each such person is
followed by a single-person backend of their own, on a square crop around them that moves when they do: in
the crop they are big enough for MediaPipe's detector, and its tracking keeps to them. So each person in
view costs about one single-person frame, and the detector a few hundredths of one. MediaPipe lets go of
Python's lock while its graph runs, so the people are looked at side by side, in threads: on a machine with
a core a person, two people cost about the time of one.

Each frame's people are linked into tracks (`tracking.PersonTracker`) and one of them is followed, the one
exercising (`exerciser.ExerciserChoice`): a `PeopleFrame`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np

from .base import PoseBackend
from .exerciser import ExerciserChoice
from .mediapipe_backend import NUM_LANDMARKS, MediaPipePose, MediaPipePoseFrame
from .native_logs import native_logs_silenced
from .tracking import PeopleFrame, PersonTracker, gap_frames, missing_pose, person_box, pose_distance

# A look for newcomers every 1.5 s, at one region of the frame: the detector costs about 0.6 of a person's
# landmarks (CPU time), so at the models' 10 fps a one-person frame costs 4% more.
DETECT_EVERY_S = 1.5
MAX_PEOPLE = 4
# A follower's crop is this many times the person's size (their box's longer side), so that they can move
# and stretch inside it; it is moved when they come this near (a share of the crop) to its edge, or when
# their size changes by more than this ratio.
CROP_SCALE = 1.6
CROP_EDGE = 0.1
CROP_RESIZE = 1.5
# Two poses of one frame whose median joints are this close (a share of the person's height) are one person:
# MediaPipe on the whole frame and on a crop differ by a few hundredths; two people side by side, by a third
# of a height and more.
SAME_PERSON = 0.2


class PersonDetector:
    """MediaPipe's pose detector alone (the wheel's `PoseDetectionCpu` graph): where people are, no landmarks.

    Each person comes as a box (left, top, right, bottom, pixels) around the body the detector predicts:
    centered on its hip-center keypoint, reaching as far as its body-size keypoint."""

    def __init__(self):
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        graph = text_format.Parse(
            'input_stream: "image" output_stream: "detections" node { calculator: "PoseDetectionCpu" '
            'input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }',
            calculator_pb2.CalculatorGraphConfig())
        with native_logs_silenced():
            self._graph = SolutionBase(graph_config=graph)
        self._started = False

    def __call__(self, frame_rgb: np.ndarray) -> list[np.ndarray]:
        height, width = frame_rgb.shape[:2]
        # The first frame through the graph starts its models, which log natively.
        with nullcontext() if self._started else native_logs_silenced():
            detections = self._graph.process(frame_rgb).detections or []
        self._started = True
        boxes = []
        for detection in detections:
            hips, size = ((point.x * width, point.y * height)
                          for point in detection.location_data.relative_keypoints[:2])
            radius = float(np.hypot(size[0] - hips[0], size[1] - hips[1]))
            boxes.append(np.array([hips[0] - radius, hips[1] - radius, hips[0] + radius, hips[1] + radius]))
        return boxes

    def close(self) -> None:
        self._graph.close()


def detection_regions(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The regions (left, top, right, bottom) the detector looks at in turn: the whole frame, and for a wide
    frame its left and right squares."""
    regions = [(0, 0, width, height)]
    if width > 1.2 * height:
        regions += [(0, 0, height, height), (width - height, 0, width, height)]
    return regions


def _box_center_in(box: np.ndarray, boxes: list[np.ndarray]) -> bool:
    center = (box[:2] + box[2:]) / 2
    return any(((other[:2] <= center) & (center <= other[2:])).all() for other in boxes)


def _same_person(pose: MediaPipePoseFrame, other: MediaPipePoseFrame) -> bool:
    box = person_box(other.image_points)
    size = max(box[2] - box[0], box[3] - box[1], 1.0)
    return pose_distance(pose.image_points, other.image_points) < SAME_PERSON * size


class _CropFollower:
    """One more person, followed by a single-person backend of their own on a square crop around them."""

    def __init__(self, backend: MediaPipePose, box: np.ndarray, frame_size: tuple[int, int]):
        self.backend, self.frame_size = backend, frame_size
        self.misses = 0
        self.last_pose: MediaPipePoseFrame | None = None
        self._crop_around(box)

    def _crop_around(self, box: np.ndarray) -> None:
        """A square of `CROP_SCALE` times the box's longer side centered on it, as far as the frame allows.
        The backend carries on (a restart of its graph costs three frames): its tracking finds the person
        again where the crop's move put them, and its smoothing takes the jump as a quick move."""
        width, height = self.frame_size
        self.person_size = float(max(box[2] - box[0], box[3] - box[1]))
        side = int(min(CROP_SCALE * self.person_size, width, height))
        center = (box[:2] + box[2:]) / 2
        left = int(round(min(max(center[0] - side / 2, 0), width - side)))
        top = int(round(min(max(center[1] - side / 2, 0), height - side)))
        self.crop = (left, top, left + side, top + side)
        self.locked = False

    def _needs_new_crop(self, box: np.ndarray) -> bool:
        """Whether the person's box nears an edge of the crop that is not the frame's, or changed size."""
        width, height = self.frame_size
        left, top, right, bottom = self.crop
        margin = CROP_EDGE * (right - left)
        near_edge = ((box[0] < left + margin and left > 0) or (box[1] < top + margin and top > 0)
                     or (box[2] > right - margin and right < width) or (box[3] > bottom - margin and bottom < height))
        size = float(max(box[2] - box[0], box[3] - box[1]))
        return near_edge or not 1 / CROP_RESIZE <= size / self.person_size <= CROP_RESIZE

    def __call__(self, frame_rgb: np.ndarray, others: list[np.ndarray]) -> MediaPipePoseFrame | None:
        """The person's pose in this frame (frame coordinates), None when the backend lost them. Until it
        has found them in its crop, the `others`' boxes are blacked out of it, so that it finds no one else."""
        left, top, right, bottom = self.crop
        image = frame_rgb[top:bottom, left:right]
        if not self.locked:
            image = image.copy()
            for box in others:
                (x0, y0) = np.floor(box[:2]).astype(int) - (left, top)
                (x1, y1) = np.ceil(box[2:]).astype(int) - (left, top)
                image[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 0
        pose = self.backend(np.ascontiguousarray(image))
        if not pose.detected:
            self.misses += 1
            return None
        self.misses = 0
        width, height = self.frame_size
        side = right - left
        keypoints = pose.keypoints.copy()
        keypoints[:, 0] = (keypoints[:, 0] * side + left) / width
        keypoints[:, 1] = (keypoints[:, 1] * side + top) / height
        keypoints[:, 2] *= side / width  # MediaPipe's depth is on the scale of x
        self.last_pose = MediaPipePoseFrame(keypoints, pose.image_points + np.array([left, top], np.float32),
                                            pose.scores, True, pose.world_keypoints)
        box = person_box(self.last_pose.image_points)
        if self._needs_new_crop(box):
            self._crop_around(box)
        else:
            self.locked = True
        return self.last_pose


def _forgetting(backend: MediaPipePose) -> MediaPipePose:
    """`backend`, reset: it forgets whom it followed."""
    backend.reset()
    return backend


class MediaPipePeople(PoseBackend):
    name = "mediapipe-people"
    layout = "mediapipe33"

    def __init__(self, fps: float = 10.0, max_people: int = MAX_PEOPLE, **mediapipe_options):
        """`fps`: the rate frames come at (default: the models' sampling rate; `set_frame_rate` changes it),
        which the looks for newcomers, the tracks and the exerciser choice are timed by; `mediapipe_options`
        go to every `MediaPipePose`."""
        self.max_people = max_people
        self._options = mediapipe_options
        self._one = MediaPipePose(**mediapipe_options)
        self._detector = PersonDetector()
        self.set_frame_rate(fps)
        self._followers: list[_CropFollower] = []
        self._threads = ThreadPoolExecutor(max_people, thread_name_prefix="mediapipe-people")
        # Single-person backends ready for the next newcomers, made (or reset) in the background: a graph takes
        # 0.15 s to build or to restart, which in a frame holds up a live session. One is built ahead; the
        # backends of followers gone are kept, reset.
        self._spare: list[Future[MediaPipePose]] = [self._threads.submit(MediaPipePose, **mediapipe_options)]
        self.reset()

    def set_frame_rate(self, fps: float) -> None:
        self.detect_every, self._max_gap = max(1, round(DETECT_EVERY_S * fps)), gap_frames(fps)
        self._tracker = PersonTracker(fps)
        self._choice = ExerciserChoice(fps)

    def reset(self) -> None:
        self._one.reset()
        self._drop(self._followers)
        self._frame = 0
        self._tracker.reset()
        self._choice.reset()

    def close(self) -> None:
        self._drop(self._followers)
        for backend in [self._one, *(spare.result() for spare in self._spare)]:
            backend.close()
        self._spare = []
        self._detector.close()
        self._threads.shutdown()

    def _drop(self, followers: list[_CropFollower]) -> None:
        self._spare += [self._threads.submit(_forgetting, follower.backend) for follower in followers]
        self._followers = [follower for follower in self._followers if follower not in followers]

    def _spare_backend(self) -> MediaPipePose:
        """A single-person backend for a new follower: a spare one, or a new one when none is left."""
        return self._spare.pop(0).result() if self._spare else MediaPipePose(**self._options)

    def _people_found(self, frame_rgb: np.ndarray) -> list[np.ndarray]:
        """The boxes (frame pixels) of the people the detector finds in this turn's region (in all of them on a
        clip's first frame)."""
        height, width = frame_rgb.shape[:2]
        regions = detection_regions(width, height)
        if self._frame > 0:
            regions = [regions[self._frame // self.detect_every % len(regions)]]
        return [box + np.array([left, top, left, top]) for left, top, right, bottom in regions
                for box in self._detector(np.ascontiguousarray(frame_rgb[top:bottom, left:right]))]

    def _follow_newcomers(self, boxes: list[np.ndarray], known: list[np.ndarray], frame_size: tuple[int, int]) -> None:
        """Follow the people of `boxes` whom nobody follows yet (`known`: the boxes of those followed)."""
        for box in boxes:
            if len(self._followers) + 1 >= self.max_people or _box_center_in(box, known):
                continue
            self._followers.append(_CropFollower(self._spare_backend(), box, frame_size))
            known.append(box)

    def __call__(self, frame_rgb: np.ndarray) -> PeopleFrame:
        # Where the followers were in the last frame, before any of them moves on.
        followed_boxes = [person_box(follower.last_pose.image_points)
                          for follower in self._followers if follower.last_pose is not None]
        # A follower locked on its person needs nothing of this frame's others: it runs beside the whole frame.
        locked = {follower: self._threads.submit(follower, frame_rgb, [])
                  for follower in self._followers if follower.locked}
        # The detector's look for newcomers runs beside the whole frame's landmarks too.
        found = self._threads.submit(self._people_found, frame_rgb) if self._frame % self.detect_every == 0 else None
        own = self._one(frame_rgb)  # today's backend on the whole frame, as before: one person, same output
        whole_frame = [own] if own.detected else []
        if found is not None:
            self._follow_newcomers(found.result(), [person_box(pose.image_points) for pose in whole_frame]
                                   + followed_boxes, frame_rgb.shape[1::-1])
        others, gone = [], []
        for follower in self._followers:
            pose = (locked[follower].result() if follower in locked else
                    follower(frame_rgb, [person_box(other.image_points) for other in whole_frame + others]))
            if pose is None:
                if follower.misses > self._max_gap:
                    gone.append(follower)
            elif any(_same_person(pose, other) for other in others):
                gone.append(follower)  # two followers came to one person
            else:
                others.append(pose)
        self._drop(gone)
        # Where the whole-frame backend is on someone followed on a crop, the crop's landmarks (a closer view)
        # are theirs.
        poses = [pose for pose in whole_frame if not any(_same_person(pose, other) for other in others)] + others
        self._frame += 1
        tracks = self._tracker.update(poses)
        followed = self._choice.update(dict(zip(tracks, poses)), frame_rgb.shape[1::-1])
        # The followed person may be out of sight a moment (behind someone): no pose this frame.
        followed_pose = poses[tracks.index(followed)] if followed in tracks else missing_pose(NUM_LANDMARKS)
        return PeopleFrame(followed_pose.keypoints, followed_pose.image_points, followed_pose.scores,
                           followed_pose.detected, followed_pose.world_keypoints,
                           people=tuple(poses), tracks=tuple(tracks), followed=followed)
