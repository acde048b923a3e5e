"""Everyone in view, frame by frame, linked into per-person tracks.

A track is one person through time: each frame's poses are matched to the tracks of the frames before by
how far their joints moved (relative to the person's size), so that two people never share a track; a
person unseen for a few frames (walking behind someone) keeps their track when they come back near where
they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model.skeleton import get_layout
from .base import PeopleInView
from .mediapipe_backend import MediaPipePoseFrame

# How fast a person's joints may move and still be the same person: the median joint's move in person
# heights a second (jumping jacks move it less than one; two people side by side stand a height apart, and
# at the models' 10 fps that is four frames' reach). Out of sight, a person is taken to have moved for
# `MAX_UNSEEN_MOVE_S` at most.
MAX_MOVE_PER_S = 2.5
MAX_UNSEEN_MOVE_S = 0.3
# Whatever the frame rate, a pose may move this far (person heights) from one frame to the next and keep its
# track: MediaPipe's own jumps (a limb guessed anew, a follower's crop moved) do not shrink with the rate,
# and at 30 fps `MAX_MOVE_PER_S` alone cut one person into several tracks.
MIN_REACH = MAX_MOVE_PER_S / 10
# A track unseen for longer than this has ended: a short occlusion is less.
MAX_GAP_S = 1.0
# Where two tracks are in reach of one pose, the one seen more recently wins by this much (person heights)
# a second unseen.
RECENCY_PER_S = 0.5
# A track begun while another person is unseen, this near (median joint, a share of that person's height)
# to where they were last seen, is them again: the tracker cut them in two (MediaPipe's fit jumped further
# than its reach, as on a person lying sideways).
SAME_PLACE = 0.5
_MIRRORED = get_layout("mediapipe33").mirror_permutation


def person_box(image_points: np.ndarray) -> np.ndarray:
    """(left, top, right, bottom) in pixels around one person's joints (J, 2): all of them, those MediaPipe
    only guesses included (a leg out of the frame), so that the box keeps the person's whole size."""
    points = image_points[np.isfinite(image_points).all(axis=1)]
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def pose_distance(image_points: np.ndarray, other: np.ndarray) -> float:
    """The median joint's distance (pixels) between two MediaPipe poses (J, 2), the lesser of as they are
    and with one's left and right swapped (MediaPipe mixes them up on someone facing the camera)."""
    return float(min(np.median(np.linalg.norm(image_points - other, axis=1)),
                     np.median(np.linalg.norm(image_points - other[_MIRRORED], axis=1))))


def person_height(box: np.ndarray) -> float:
    """A person's size in pixels: the longer side of their box (`person_box`), so that lying down counts too."""
    return float(max(box[2] - box[0], box[3] - box[1], 1.0))


def same_place(last_seen: np.ndarray, image_points: np.ndarray) -> bool:
    """Whether a pose (`image_points`, J x 2) stands where a person was `last_seen` (J x 2): within `SAME_PLACE`
    of their height."""
    return pose_distance(image_points, last_seen) <= SAME_PLACE * person_height(person_box(last_seen))


@dataclass
class PeopleFrame(MediaPipePoseFrame):
    """One frame of a multi-person backend: the followed person's pose in `MediaPipePoseFrame`'s fields (not
    `detected` when nobody is followed), and everyone's: `people` (poses), `tracks` (their track ids, in the
    same order), `followed` (the followed track's id, None when nobody is)."""

    people: tuple[MediaPipePoseFrame, ...] = ()
    tracks: tuple[int, ...] = ()
    followed: int | None = None

    def people_in_view(self) -> PeopleInView:
        return {track: (pose.image_points, pose.scores) for track, pose in zip(self.tracks, self.people)}, self.followed

    def pose_of(self, track: int) -> MediaPipePoseFrame:
        """The pose of `track`'s person in this frame; a frame without a person when they are not in it."""
        if track in self.tracks:
            return self.people[self.tracks.index(track)]
        return missing_pose(self.keypoints.shape[0])


def missing_pose(num_joints: int) -> MediaPipePoseFrame:
    """A frame's pose where nobody is: NaN joints, zero scores."""
    nothing = np.full((num_joints, 3), np.nan, np.float32)
    return MediaPipePoseFrame(nothing, np.full((num_joints, 2), np.nan, np.float32), np.zeros(num_joints, np.float32),
                              False, nothing.copy())


@dataclass
class _LiveTrack:
    id: int
    last_frame: int
    image_points: np.ndarray
    height: float


def gap_frames(fps: float, seconds: float = MAX_GAP_S) -> int:
    """The frames at `fps` a track may go unseen before it has ended."""
    return max(1, round(seconds * fps))


class PersonTracker:
    """Gives each frame's poses their track ids, one frame after the other (`reset` between clips), frames
    coming at `fps`."""

    def __init__(self, fps: float, max_gap_s: float = MAX_GAP_S):
        # Imported as the tracker is made, with its backend: scipy.optimize takes about half a second to
        # import, which in the first frame with someone in view held up a live session's start.
        from scipy.optimize import linear_sum_assignment

        self._assign = linear_sum_assignment
        self.max_step, self.max_gap = max(MAX_MOVE_PER_S / fps, MIN_REACH), gap_frames(fps, max_gap_s)
        self._unseen_cap, self._recency = max(1, round(MAX_UNSEEN_MOVE_S * fps)), RECENCY_PER_S / fps
        self.reset()

    def reset(self) -> None:
        self._tracks: list[_LiveTrack] = []
        self._frame = -1
        self._next_id = 0

    def _distance(self, track: _LiveTrack, pose: MediaPipePoseFrame) -> float:
        """The median joint's move from the track's last pose, in person heights, per frame unseen (as many
        as `MAX_UNSEEN_MOVE_S` at most)."""
        unseen = self._frame - track.last_frame
        return pose_distance(pose.image_points, track.image_points) / track.height / min(unseen, self._unseen_cap)

    def update(self, poses: list[MediaPipePoseFrame]) -> list[int]:
        """The track id of each of this frame's poses: the nearest track within reach, else a new one."""
        self._frame += 1
        self._tracks = [track for track in self._tracks if self._frame - track.last_frame <= self.max_gap]
        ids = [-1] * len(poses)
        if self._tracks and poses:
            distance = np.array([[self._distance(track, pose) for pose in poses] for track in self._tracks])
            unseen = np.array([self._frame - track.last_frame - 1 for track in self._tracks])
            for row, column in zip(*self._assign(distance + self._recency * unseen[:, None])):
                if distance[row, column] <= self.max_step:
                    ids[column] = self._tracks[row].id
        for index, pose in enumerate(poses):
            if ids[index] < 0:
                ids[index] = self._next_id
                self._next_id += 1
                self._tracks.append(_LiveTrack(ids[index], self._frame, pose.image_points, 0.0))
            track = next(track for track in self._tracks if track.id == ids[index])
            track.last_frame, track.image_points = self._frame, pose.image_points
            track.height = person_height(person_box(pose.image_points))
        return ids


@dataclass
class PeopleTracks:
    """Every track of a clip: for track `id`, its frames from `start[id]` on, `image_points[id]` (n, J, 2)
    pixels, `keypoints[id]` (n, J, 3), `scores[id]` (n, J), NaN / 0 in the frames it was not seen."""

    num_frames: int
    start: dict[int, int] = field(default_factory=dict)
    keypoints: dict[int, np.ndarray] = field(default_factory=dict)
    image_points: dict[int, np.ndarray] = field(default_factory=dict)
    scores: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_frames(cls, frames: list[PeopleFrame]) -> "PeopleTracks":
        spans: dict[int, list[int]] = {}
        for index, frame in enumerate(frames):
            for track in frame.tracks:
                spans.setdefault(track, [index, index])[1] = index
        tracks = cls(len(frames))
        for track, (first, last) in spans.items():
            length = last - first + 1
            joints = frames[first].people[frames[first].tracks.index(track)].keypoints.shape[0]
            tracks.start[track] = first
            tracks.keypoints[track] = np.full((length, joints, 3), np.nan, np.float32)
            tracks.image_points[track] = np.full((length, joints, 2), np.nan, np.float32)
            tracks.scores[track] = np.zeros((length, joints), np.float32)
        for index, frame in enumerate(frames):
            for track, pose in zip(frame.tracks, frame.people):
                row = index - tracks.start[track]
                tracks.keypoints[track][row] = pose.keypoints
                tracks.image_points[track][row] = pose.image_points
                tracks.scores[track][row] = pose.scores
        return tracks

    @property
    def ids(self) -> list[int]:
        return sorted(self.start)

    def end(self, track: int) -> int:
        """The frame after the track's last one."""
        return self.start[track] + len(self.scores[track])

    def people(self, max_gap: int, min_seen: int = 1) -> list[list[int]]:
        """The tracks of each person, in time order: a track that begins at most `max_gap` frames after a
        person was last seen, where they were (`same_place`), is theirs (the nearest such person's): the
        tracker cut them in two. Tracks seen in fewer than `min_seen` frames are left out: a glimpse (a false
        detection, a fit of one frame) is nobody's."""
        people: list[list[int]] = []
        lasting = [track for track in self.ids if self.seen(track).sum() >= min_seen]
        for track in sorted(lasting, key=lambda track: (self.start[track], track)):
            first = self.image_points[track][0]
            last_seen = {index: self.image_points[person[-1]][-1] for index, person in enumerate(people)
                         if 0 < self.start[track] - (self.end(person[-1]) - 1) <= max_gap}
            near = {index: pose_distance(first, points) for index, points in last_seen.items()
                    if same_place(points, first)}
            if near:
                people[min(near, key=near.get)].append(track)
            else:
                people.append([track])
        return people

    def seen(self, track: int) -> np.ndarray:
        """(n,) whether the track's person was found in each of its frames."""
        return np.isfinite(self.image_points[track][:, :, 0]).any(axis=1)

    def in_frame(self, frame: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """The image points (J, 2) and scores (J,) of everyone seen in `frame`, by track."""
        people = {}
        for track in self.ids:
            row = frame - self.start[track]
            if 0 <= row < len(self.scores[track]) and np.isfinite(self.image_points[track][row, :, 0]).any():
                people[track] = self.image_points[track][row], self.scores[track][row]
        return people
