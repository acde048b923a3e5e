"""When to abstain instead of naming an exercise, and what kind of "not this" each reason is.

`abstention` says why a clip, a segment or a window should not be named at all: no person in most frames,
walking (`motion.walking_speed`), no motion (for an exercise that moves: a plank is a hold), or a top
probability below the threshold. The thresholds (`AbstainThresholds`) are calibrated on held-out clips of
known exercises against clips of people walking or standing (`gym_gesture.training.calibration`, saved as
`calibration.json` beside the model); the defaults here are used when a model has none.

Verdicts: every abstain reason is of one kind, the verdict a person reads first (`Abstention.verdict`):
no person in most frames is NO_PERSON; walking or no exercise motion is NOT_AN_EXERCISE (the person is
seen doing something that is no exercise done in place); a low top probability is NOT_SURE (the model
leans to an exercise without being sure: a known one done unclearly, or one it does not know).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.paths import CALIBRATION_FILE
from .motion import in_proportion, motion_energy, walking_speed
from .prediction import NO_PERSON, NOT_AN_EXERCISE, NOT_SURE
from .segments import span_frames

# Exercises held still: no motion is expected, so it is no reason to abstain.
HOLD_EXERCISES = frozenset({"plank"})
DEFAULT_MIN_DETECTION_RATE = 0.5
DEFAULT_MIN_PROBABILITY = 0.5  # used when the model folder has no calibration.json
DEFAULT_MIN_MOTION = 0.05  # torso lengths, see `motion.motion_energy`
DEFAULT_MIN_WALK_SPEED = 0.5  # torso lengths per second, see `motion.walking_speed`; calibration.json overrides it


@dataclass(frozen=True)
class AbstainThresholds:
    """When to abstain (`abstain_reason`): calibrated per model (`CALIBRATION_FILE`), else the defaults."""

    min_detection_rate: float = DEFAULT_MIN_DETECTION_RATE
    min_probability: float = DEFAULT_MIN_PROBABILITY
    min_motion: float = DEFAULT_MIN_MOTION
    min_walk_speed: float = DEFAULT_MIN_WALK_SPEED
    # An exercise's own motion threshold where it has one: an enrolled exercise's comes from its clips
    # (`enroll.motion_floor`), so that a small movement (a shrug) taught from clips is not "no motion".
    min_motion_by_exercise: dict[str, float] = field(default_factory=dict, hash=False)

    def motion_threshold(self, exercise: str) -> float:
        """The least motion energy that counts as doing `exercise` (0 for a hold: a plank does not move)."""
        if exercise in HOLD_EXERCISES:
            return 0.0
        return self.min_motion_by_exercise.get(exercise, self.min_motion)

    def to_json(self) -> dict:
        """The thresholds as calibration.json's "thresholds" holds them (`for_model` reads them back)."""
        chosen = {item.name: getattr(self, item.name) for item in fields(self)}
        if not chosen["min_motion_by_exercise"]:
            del chosen["min_motion_by_exercise"]
        return chosen

    @classmethod
    def for_model(cls, model_dir: str | Path) -> AbstainThresholds:
        """The thresholds of `model_dir/calibration.json` (`gym-gesture calibrate`), defaults for any it lacks."""
        path = Path(model_dir) / CALIBRATION_FILE
        if not path.is_file():
            return cls()
        try:
            chosen = json.loads(path.read_text()).get("thresholds", {})
            by_exercise = {str(name): float(value) for name, value in chosen.get("min_motion_by_exercise", {}).items()}
            return cls(**{item.name: float(chosen[item.name]) for item in fields(cls)
                          if item.name in chosen and item.name != "min_motion_by_exercise"},
                       min_motion_by_exercise=by_exercise)
        except (ValueError, TypeError, AttributeError) as error:  # not JSON, not an object, not numbers
            raise InputError(f"{path}: not a calibration file of gym-gesture calibrate ({error})") from error


DEFAULT_THRESHOLDS = AbstainThresholds()


@dataclass(frozen=True)
class Abstention:
    """Why not to name an exercise (`reason`, for people) and its kind (`verdict`: NOT_SURE,
    NOT_AN_EXERCISE or NO_PERSON)."""

    verdict: str
    reason: str


@dataclass(frozen=True)
class PrototypeSimilarity:
    """For an exercise enrolled from a few clips (`gym-gesture enroll`): how close the frames are to its
    enrolled clips (mean over windows of the nearest prototype's cosine similarity) and the threshold its
    clips set (the model config's `prototype_thresholds`)."""

    similarity: float
    threshold: float


def not_sure_reason(top_probability: float, thresholds: AbstainThresholds) -> str:
    """The reason given when the top probability is below the threshold."""
    return f"not sure which exercise (top probability {top_probability:.2f} < {thresholds.min_probability:.2f})"


def abstention(detection_rate: float, top_probability: float, motion: float, exercise: str, *,
               walking: float = 0.0, thresholds: AbstainThresholds = DEFAULT_THRESHOLDS,
               similarity: PrototypeSimilarity | None = None) -> Abstention | None:
    """Why not to name `exercise` for a clip or a segment; None when it can be named.

    detection_rate: fraction of frames with a person; top_probability: the model's probability of
    `exercise`; motion: `motion_energy` of the frames; walking: their `walking_speed`; similarity: for an
    enrolled exercise, how close the frames are to its enrolled clips (too far: not sure).
    """
    if detection_rate < thresholds.min_detection_rate:
        return Abstention(NO_PERSON, f"no person found in most frames (a person in {detection_rate:.0%} of frames)")
    if walking >= thresholds.min_walk_speed:
        return Abstention(NOT_AN_EXERCISE, (
            f"walking, not an exercise done in place (the hips travel sideways at {walking:.2f} torso "
            f"lengths/s >= {thresholds.min_walk_speed:.2f} with the legs swinging in turn)"))
    min_motion = thresholds.motion_threshold(exercise)
    if min_motion > 0 and not (motion >= min_motion):
        return Abstention(NOT_AN_EXERCISE, f"no exercise motion (motion energy {motion:.3f} < {min_motion:.3f})")
    if top_probability < thresholds.min_probability:
        return Abstention(NOT_SURE, not_sure_reason(top_probability, thresholds))
    if similarity is not None and similarity.similarity < similarity.threshold:
        return Abstention(NOT_SURE, (f"not close enough to the clips {exercise!r} was enrolled from (similarity "
                                     f"{similarity.similarity:.3f} < {similarity.threshold:.3f})"))
    return None


def abstain_reason(detection_rate: float, top_probability: float, motion: float, exercise: str, *,
                   walking: float = 0.0, thresholds: AbstainThresholds = DEFAULT_THRESHOLDS,
                   similarity: PrototypeSimilarity | None = None) -> str | None:
    """The reason of `abstention` (same arguments), or None."""
    found = abstention(detection_rate, top_probability, motion, exercise, walking=walking, thresholds=thresholds,
                       similarity=similarity)
    return found.reason if found else None


@dataclass(frozen=True)
class AbstainSample:
    """What `abstain_reason` reads of one clip or window, with its true exercise (None: not exercising)."""

    predicted: str
    probability: float
    detection_rate: float
    motion: float
    walking: float
    label: str | None = None
    similarity: PrototypeSimilarity | None = None

    def abstention(self, thresholds: AbstainThresholds) -> Abstention | None:
        return abstention(self.detection_rate, self.probability, self.motion, self.predicted,
                          walking=self.walking, thresholds=thresholds, similarity=self.similarity)

    def reason(self, thresholds: AbstainThresholds) -> str | None:
        found = self.abstention(thresholds)
        return found.reason if found else None


def span_sample(keypoints: np.ndarray, layout: str, fps: float, detected: np.ndarray, start: float, end: float,
                predicted: str, probability: float, label: str | None = None,
                similarity: PrototypeSimilarity | None = None, *,
                frame_size: tuple[int, int] | None = None) -> AbstainSample:
    """The `AbstainSample` of the frames from `start` to `end` (s from the first frame) of a pose sequence:
    keypoints (T, J, C) in `layout` at `fps`, NaN where `detected` (T,) is False, x / width and y / height
    of frames of `frame_size` (None where unknown); motion and walking are measured `in_proportion`."""
    _, frames, seen = span_frames(keypoints, detected, fps, start, end)
    body = in_proportion(frames, frame_size)
    return AbstainSample(predicted, float(probability), float(seen.mean()) if len(seen) else 0.0,
                         motion_energy(body, layout), walking_speed(body, layout, fps), label, similarity)
