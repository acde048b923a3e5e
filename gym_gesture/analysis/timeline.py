"""From per-window predictions to a timeline of exercise segments, and when to abstain instead.

The classifier sees one window (a couple of seconds) at a time; a workout is a sequence of windows.
`segments_from_windows` averages each window's class probabilities with its neighbours', takes the most
probable class per window (or none, when it is below `min_probability`), merges runs of the same class
into segments and folds segments shorter than `min_duration_s` into a neighbour, so a one-window flicker
never becomes an exercise of its own. Everything here works on plain arrays: the pose sequence and the
model stay in the inference path.

`describe_segments` adds what happened inside each segment: its reps (`reps.count_reps` on the
segment's frames), whether to abstain on it, and for push ups the form verdict (`form.form_verdict`).

Abstaining: `abstain_reason` says why a clip (or a window) should not be named at all: no person in most
frames, walking (`walking_speed`: the hips travel sideways while the legs swing in opposite phase, which
no exercise done in place does), no motion (for an exercise that moves: a plank is a hold), or a top
probability below the threshold. The thresholds (`AbstainThresholds`) are calibrated on held-out clips of
known exercises against clips of people walking or standing (`gym_gesture.training.calibration`, saved as
`calibration.json` beside the model); the defaults here are used when a model has none.

Verdicts: every abstain reason is of one kind, the verdict a person reads first (`Abstention.verdict`):
no person in most frames is NO_PERSON; walking or no exercise motion is NOT_AN_EXERCISE (the person is
seen doing something that is no exercise done in place); a low top probability is NOT_SURE (the model
leans to an exercise without being sure: a known one done unclearly, or one it does not know).
`clip_verdict` makes the clip's verdict and its segments' agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .form import FormModel, form_verdict
from ..core.paths import CALIBRATION_FILE
from .prediction import EXERCISE, NO_PERSON, NOT_AN_EXERCISE, NOT_SURE, Segment
from .reps import count_reps, range_of_motion
from ..model.skeleton import convert, get_layout, normalize

# Exercises held still: no motion is expected, so it is no reason to abstain.
HOLD_EXERCISES = frozenset({"plank"})
DEFAULT_MIN_DETECTION_RATE = 0.5
DEFAULT_MIN_PROBABILITY = 0.5  # used when the model folder has no calibration.json
DEFAULT_MIN_MOTION = 0.05  # torso lengths, see `motion_energy`
DEFAULT_MIN_WALK_SPEED = 0.5  # torso lengths per second, see `walking_speed`; calibration.json overrides it
# Calibration may cost at most this share of the held-out samples named right (see `calibrate_threshold`).
DEFAULT_MAX_LOST = 0.01
# `walking_speed` looks at stretches of this many seconds (a couple of steps), a quarter of one apart.
WALK_STRETCH_S = 2.0
# Walking swings the legs in opposite phase: the ankles' sideways offsets from the hips are
# anti-correlated and their difference swings by a good part of a torso length. Exercises done in
# place keep the feet together or planted (correlation near +1); these two are not calibrated.
WALK_MAX_ANKLE_CORRELATION = -0.2
WALK_MIN_LEG_SWING = 0.3  # torso lengths, standard deviation of the left-right ankle offset
# A set lasts this long at least: a clip whose named time is mostly in segments this long is a workout of
# sets, judged by its segments (`clip_verdict`); otherwise short segments of exercises in turn are the
# model wavering (an unknown exercise taken for a squat, then a push up, then a squat again).
MIN_SET_S = 10.0


@dataclass
class RawSegment:
    """One exercise from `start` to `end` (s), with the mean top probability of its `windows`, as cut
    from the windows: `describe_segments` makes it a `prediction.Segment`."""

    exercise: str
    start: float
    end: float
    probability: float
    windows: int


def smooth_probabilities(probabilities: np.ndarray, neighbours: int = 1) -> np.ndarray:
    """Mean of each window's probabilities (N, C) with `neighbours` windows either side (fewer at the ends)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (windows, classes), got shape {probabilities.shape}")
    padded = np.concatenate([np.zeros((1, probabilities.shape[1])), np.cumsum(probabilities, axis=0)])
    index = np.arange(len(probabilities))
    low, high = np.maximum(index - neighbours, 0), np.minimum(index + neighbours + 1, len(probabilities))
    return (padded[high] - padded[low]) / (high - low)[:, None]


def segments_from_windows(starts: np.ndarray, ends: np.ndarray, probabilities: np.ndarray,
                          labels: list[str] | tuple[str, ...], *, neighbours: int = 1,
                          min_probability: float = 0.0, min_duration_s: float = 2.0) -> list[RawSegment]:
    """Segments (exercise, start, end) from windows [starts, ends) (s) and their probabilities (N, C).

    Windows whose smoothed top probability is below `min_probability` belong to no exercise; such
    stretches are gaps between segments, not segments. Boundaries between consecutive windows fall
    halfway between their centres, so overlapping windows give segments that do not overlap.
    """
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not (len(starts) == len(ends) == len(probabilities)):
        raise ValueError(f"{len(starts)} starts, {len(ends)} ends and {len(probabilities)} probability rows differ")
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise ValueError(f"probabilities must be (windows, {len(labels)} classes), got {probabilities.shape}")
    if len(starts) == 0:
        return []
    order = np.argsort(starts, kind="stable")
    starts, ends, probabilities = starts[order], ends[order], probabilities[order]
    smoothed = smooth_probabilities(probabilities, neighbours)
    top = smoothed.argmax(1)
    top_probability = smoothed.max(1)
    classes = np.where(top_probability >= min_probability, top, -1)

    centres = (starts + ends) / 2
    edges = np.concatenate([[starts[0]], (centres[1:] + centres[:-1]) / 2, [ends[-1]]])
    # Runs of one class: [first window, last window + 1).
    runs = _runs(classes)
    runs = _fold_short_runs(runs, classes, edges, min_duration_s)
    return [RawSegment(labels[cls], float(edges[a]), float(edges[b]), float(top_probability[a:b].mean()), b - a)
            for cls, a, b in runs if cls >= 0]


def _runs(classes: np.ndarray) -> list[list[int]]:
    runs: list[list[int]] = []
    for index, cls in enumerate(classes.tolist()):
        if runs and runs[-1][0] == cls:
            runs[-1][2] = index + 1
        else:
            runs.append([cls, index, index + 1])
    return runs


def _fold_short_runs(runs: list[list[int]], classes: np.ndarray, edges: np.ndarray,
                     min_duration_s: float) -> list[list[int]]:
    """Give the shortest run under `min_duration_s` to its longer neighbour, until none is left (or one run)."""
    while len(runs) > 1:
        durations = [edges[b] - edges[a] for _, a, b in runs]
        shortest = int(np.argmin(durations))
        if durations[shortest] >= min_duration_s:
            break
        neighbours = [i for i in (shortest - 1, shortest + 1) if 0 <= i < len(runs)]
        target = max(neighbours, key=lambda i: durations[i])
        runs[shortest][0] = runs[target][0]
        merged: list[list[int]] = []
        for run in runs:
            if merged and merged[-1][0] == run[0]:
                merged[-1][2] = run[2]
            else:
                merged.append(list(run))
        runs = merged
    return runs


def motion_energy(keypoints: np.ndarray, layout: str) -> float:
    """How much the body moves: mean over joints of the standard deviation over time of the joint's
    normalised position (torso lengths, hips centred). Someone standing still scores ~0.01 (jitter);
    a rep moves the working joints by about a torso length. NaN when no frame has a person. A joint
    missing in a frame (OpenPose and Penn Action miss single joints in most frames) is left out of its
    joint's spread only, not the whole frame."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    present = np.isfinite(keypoints).any(axis=(1, 2))
    if present.sum() < 2:
        return float("nan")
    try:
        normalised = normalize(keypoints[present], layout)[..., :2]
    except ValueError:
        return float("nan")
    seen = np.isfinite(normalised).sum(axis=0) >= 2
    return float(np.nanstd(normalised, axis=0)[seen].mean()) if seen.any() else float("nan")


def walking_stretches(keypoints: np.ndarray, layout: str, fps: float) -> np.ndarray:
    """Per stretch of `WALK_STRETCH_S` seconds (the whole sequence when shorter): the hip centre's
    sideways speed in torso lengths per second (slope of a line fitted to its x over time) where the
    legs swing in opposite phase (`WALK_MAX_ANKLE_CORRELATION`, `WALK_MIN_LEG_SWING`), else 0.
    Frames with no person are left out. Empty when fewer than three frames have a person."""
    index = get_layout("h36m17").index
    body = convert(np.asarray(keypoints, dtype=np.float32)[..., :2], layout, "h36m17")
    body = body[np.isfinite(body).all(axis=(1, 2))]
    if len(body) < 3:
        return np.zeros(0)
    hips, thorax = body[:, index["pelvis"]], body[:, index["thorax"]]
    torso = np.linalg.norm(thorax - hips, axis=-1)
    torso = float(np.median(torso[torso > 1e-6])) if (torso > 1e-6).any() else 1.0
    ankles = (body[:, [index["left_ankle"], index["right_ankle"]], 0] - hips[:, None, 0]) / torso
    length = min(len(body), max(3, int(round(WALK_STRETCH_S * fps))))
    step = max(1, length // 4)
    seconds = np.arange(length) / fps
    speeds = []
    for start in range(0, len(body) - length + 1, step):
        left, right = ankles[start:start + length].T
        swing = float(np.std(left - right))
        alternating = (swing >= WALK_MIN_LEG_SWING and left.std() > 0 and right.std() > 0
                       and np.corrcoef(left, right)[0, 1] <= WALK_MAX_ANKLE_CORRELATION)
        speeds.append(abs(np.polyfit(seconds, hips[start:start + length, 0] / torso, 1)[0]) if alternating else 0.0)
    return np.asarray(speeds)


def walking_speed(keypoints: np.ndarray, layout: str, fps: float) -> float:
    """How fast the person walks across the frame: the median over `walking_stretches` (torso lengths
    per second; 0 when the legs do not alternate in most stretches). Walking across a room is well
    over half a torso length per second; a squat or a push up, whose hips come back where they were
    and whose feet stay put, scores 0. NaN when fewer than three frames have a person.

    Sideways only: walking straight towards or away from the camera is not caught here."""
    speeds = walking_stretches(keypoints, layout, fps)
    return float(np.median(speeds)) if len(speeds) else float("nan")


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


def _span(keypoints: np.ndarray, detected: np.ndarray, fps: float, start: float, end: float):
    """The first frame, the keypoints and the detected flags of the frames from `start` to `end` (s)."""
    first, last = max(int(round(start * fps)), 0), min(int(round(end * fps)), len(keypoints))
    return first, keypoints[first:last], np.asarray(detected[first:last], dtype=bool)


def span_sample(keypoints: np.ndarray, layout: str, fps: float, detected: np.ndarray, start: float, end: float,
                predicted: str, probability: float, label: str | None = None,
                similarity: PrototypeSimilarity | None = None) -> AbstainSample:
    """The `AbstainSample` of the frames from `start` to `end` (s from the first frame) of a pose sequence:
    keypoints (T, J, C) in `layout` at `fps`, NaN where `detected` (T,) is False."""
    _, frames, seen = _span(keypoints, detected, fps, start, end)
    return AbstainSample(predicted, float(probability), float(seen.mean()) if len(seen) else 0.0,
                         motion_energy(frames, layout), walking_speed(frames, layout, fps), label, similarity)


@dataclass
class Calibration:
    """The chosen value of one threshold and the trade-off behind it: one row per candidate value."""

    threshold: float
    table: list[dict]

    def row(self, threshold: float) -> dict:
        return min(self.table, key=lambda row: abs(row["threshold"] - threshold))


def calibrate_threshold(exercises: list[AbstainSample], non_exercises: list[AbstainSample], name: str,
                        candidates, base: AbstainThresholds = DEFAULT_THRESHOLDS,
                        max_lost: float = DEFAULT_MAX_LOST) -> Calibration:
    """Pick the value of the threshold `name` (a field of `AbstainThresholds`) on held-out data.

    exercises: held-out clips (or windows) of known exercises; non_exercises: clips (or windows) of
    people walking or standing (`../shared/data/people`). For each candidate value (the other thresholds
    as in `base`): the share of exercise samples still named, and named right, and the share of
    non-exercise samples abstained on. Of the values that lose at most `max_lost` of the exercise samples
    named right (against the best value), the chosen one maximises the mean of "exercise samples named
    right" and "non-exercise samples abstained on"; of equally good values the middle one, which leaves
    the widest margin on both sides. (Without `max_lost` a handful of non-exercise samples would
    outweigh hundreds of exercise samples.)
    """
    if not exercises or not non_exercises:
        raise InputError("calibration needs clips of known exercises and clips of people not exercising")
    if name not in {field.name for field in fields(AbstainThresholds)}:
        raise ValueError(f"unknown threshold {name!r}")
    right = np.array([sample.predicted == sample.label for sample in exercises])
    table = []
    for value in candidates:
        thresholds = replace(base, **{name: float(value)})
        named = np.array([sample.reason(thresholds) is None for sample in exercises])
        abstained = np.array([sample.reason(thresholds) is not None for sample in non_exercises])
        table.append({"threshold": round(float(value), 4), "exercise_named": round(float(named.mean()), 4),
                      "exercise_named_right": round(float((named & right).mean()), 4),
                      "non_exercise_abstained": round(float(abstained.mean()), 4)})
    most_right = max(row["exercise_named_right"] for row in table)
    allowed = [row for row in table if row["exercise_named_right"] >= most_right - max_lost - 1e-9]
    scores = [(row["exercise_named_right"] + row["non_exercise_abstained"]) / 2 for row in allowed]
    best = [row for row, score in zip(allowed, scores) if score == max(scores)]
    return Calibration(best[len(best) // 2]["threshold"], table)


def describe_segments(segments: list[RawSegment], keypoints: np.ndarray, layout: str, fps: float,
                      detected: np.ndarray, *, form_model: FormModel | None = None,
                      thresholds: AbstainThresholds = DEFAULT_THRESHOLDS) -> list[Segment]:
    """The `segments` of the prediction: each segment with its `reps`, `rep_times` (s, from the clip's
    start), its verdict and `abstain` reason (`abstention` of its frames), `form` (push ups with a `form_model`: the verdict, else None), range of motion
    and hold time, from the clip's pose sequence: keypoints (T, J, C) in `layout` at `fps`, NaN where
    `detected` (T,) is False. Segment times are seconds from the sequence's first frame."""
    described = []
    for segment in segments:
        first, frames, seen = _span(keypoints, detected, fps, segment.start, segment.end)
        found = span_sample(keypoints, layout, fps, detected, segment.start, segment.end, segment.exercise,
                            segment.probability).abstention(thresholds)
        counted = count_reps(frames, layout, fps, segment.exercise)
        form = None
        if form_model is not None and segment.exercise == "push up" and seen.any():
            form = form_verdict(frames, layout, form_model)
        hold_s = float(seen.sum()) / fps if segment.exercise in HOLD_EXERCISES else None
        described.append(Segment(segment.exercise, segment.start, segment.end, segment.probability, segment.windows,
                                 counted.reps, [first / fps + t for t in counted.rep_times],
                                 found.reason if found else None, form,
                                 range_of_motion(frames, layout, segment.exercise), hold_s,
                                 found.verdict if found else EXERCISE))
    return described


@dataclass(frozen=True)
class ClipVerdict:
    """`clip_verdict`: the verdict of a whole clip, the exercise it names (None unless EXERCISE) and the
    reason it names none (None when it names one)."""

    verdict: str
    exercise: str | None
    abstain: str | None


def clip_verdict(segments: list[Segment], clip: Abstention | None) -> tuple[ClipVerdict, list[Segment]]:
    """The clip's verdict from its segments, and the segments made to agree with it.

    `clip` is the `abstention` of the whole clip (its mean probabilities, its frames). No person in most
    of it, or walking or no motion through most of it, is the clip's verdict and every segment's (none is
    then named); so is a low probability, unless most of the named time is in sets of `MIN_SET_S` or
    more (a workout of several sets has a low mean probability and long sure segments). Else the clip
    names the exercise of the most named time (a workout by its main one); with no segment named it takes
    the longest segment's verdict, or NOT_SURE when no stretch of the clip reached the probability
    threshold.
    """
    named: dict[str, float] = {}
    in_sets = 0.0
    for segment in segments:
        if segment.verdict == EXERCISE:
            length = segment.end - segment.start
            named[segment.exercise] = named.get(segment.exercise, 0.0) + length
            in_sets += length if length >= MIN_SET_S else 0.0
    workout = in_sets > sum(named.values()) / 2
    if clip is not None and (clip.verdict != NOT_SURE or not workout):
        agreed = [segment if segment.verdict != EXERCISE else replace(segment, verdict=clip.verdict, abstain=clip.reason)
                  for segment in segments]
        return ClipVerdict(clip.verdict, None, clip.reason), agreed
    if named:
        return ClipVerdict(EXERCISE, max(named, key=named.get), None), segments
    if segments:
        longest = max(segments, key=lambda segment: segment.end - segment.start)
        return ClipVerdict(longest.verdict, None, longest.abstain), segments
    return ClipVerdict(NOT_SURE, None, "not sure which exercise (no stretch of the clip reaches the probability "
                                       "threshold)"), segments
