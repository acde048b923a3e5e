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
frames, no motion (for an exercise that moves: a plank is a hold), or a top probability below the
threshold that `calibrate_threshold` picks on held-out clips of known exercises against clips of people
walking or standing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .form import FormModel, form_verdict
from .reps import count_reps
from .skeleton import normalize

# Exercises held still: no motion is expected, so it is no reason to abstain.
HOLD_EXERCISES = frozenset({"plank"})
DEFAULT_MIN_DETECTION_RATE = 0.5
DEFAULT_MIN_PROBABILITY = 0.5  # a placeholder until `calibrate_threshold` runs on the trained model
DEFAULT_MIN_MOTION = 0.05  # torso lengths, see `motion_energy`


@dataclass
class Segment:
    """One exercise from `start` to `end` (s), with the mean top probability of its windows."""

    exercise: str
    start: float
    end: float
    probability: float
    windows: int

    def to_dict(self) -> dict:
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()}


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
                          min_probability: float = 0.0, min_duration_s: float = 2.0) -> list[Segment]:
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
    return [Segment(labels[cls], float(edges[a]), float(edges[b]), float(top_probability[a:b].mean()), b - a)
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
    a rep moves the working joints by about a torso length. NaN when no frame has a person."""
    keypoints = np.asarray(keypoints, dtype=np.float32)
    present = np.isfinite(keypoints).all(axis=(1, 2))
    if present.sum() < 2:
        return float("nan")
    try:
        normalised = normalize(keypoints[present], layout)[..., :2]
    except ValueError:
        return float("nan")
    return float(np.nanmean(np.nanstd(normalised, axis=0)))


def abstain_reason(detection_rate: float, top_probability: float, motion: float, exercise: str, *,
                   min_detection_rate: float = DEFAULT_MIN_DETECTION_RATE,
                   min_probability: float = DEFAULT_MIN_PROBABILITY,
                   min_motion: float = DEFAULT_MIN_MOTION) -> str | None:
    """Why not to name `exercise` for a clip or a segment; None when it can be named.

    detection_rate: fraction of frames with a person; top_probability: the model's probability of
    `exercise`; motion: `motion_energy` of the frames.
    """
    if detection_rate < min_detection_rate:
        return f"no person found in most frames (a person in {detection_rate:.0%} of frames)"
    if exercise not in HOLD_EXERCISES and not (motion >= min_motion):
        return f"no exercise motion (motion energy {motion:.3f} < {min_motion:.3f})"
    if top_probability < min_probability:
        return f"not sure which exercise (top probability {top_probability:.2f} < {min_probability:.2f})"
    return None


@dataclass
class Calibration:
    """The chosen threshold and the trade-off behind it: one row per candidate threshold."""

    threshold: float
    table: list[dict]

    def row(self, threshold: float) -> dict:
        return min(self.table, key=lambda row: abs(row["threshold"] - threshold))


def calibrate_threshold(exercise_scores: np.ndarray, exercise_correct: np.ndarray,
                        non_exercise_scores: np.ndarray, thresholds: np.ndarray | None = None) -> Calibration:
    """Pick `min_probability` on held-out data.

    exercise_scores: the top probability on held-out clips of known exercises, exercise_correct whether
    the top class was right; non_exercise_scores: the top probability on clips of people walking or
    standing (`../shared/data/people`). For each threshold: the share of exercise clips still named
    (and named right) and the share of non-exercise clips abstained on. The chosen threshold maximises
    the mean of "exercise clips named right" and "non-exercise clips abstained on".
    """
    exercise_scores = np.asarray(exercise_scores, dtype=np.float64)
    exercise_correct = np.asarray(exercise_correct, dtype=bool)
    non_exercise_scores = np.asarray(non_exercise_scores, dtype=np.float64)
    if len(exercise_scores) == 0 or len(non_exercise_scores) == 0:
        raise ValueError("calibration needs clips of known exercises and clips of people not exercising")
    if exercise_correct.shape != exercise_scores.shape:
        raise ValueError("exercise_correct must have one entry per exercise clip")
    if thresholds is None:
        thresholds = np.round(np.linspace(0.0, 0.95, 20), 2)
    table = []
    for threshold in thresholds:
        named = exercise_scores >= threshold
        table.append({
            "threshold": float(threshold),
            "exercise_named": float(named.mean()),
            "exercise_named_right": float((named & exercise_correct).mean()),
            "non_exercise_abstained": float((non_exercise_scores < threshold).mean()),
        })
    best = max(table, key=lambda row: (row["exercise_named_right"] + row["non_exercise_abstained"]) / 2)
    return Calibration(best["threshold"], table)


def describe_segments(segments: list[Segment], keypoints: np.ndarray, layout: str, fps: float,
                      detected: np.ndarray, *, form_model: FormModel | None = None,
                      min_detection_rate: float = DEFAULT_MIN_DETECTION_RATE,
                      min_probability: float = DEFAULT_MIN_PROBABILITY,
                      min_motion: float = DEFAULT_MIN_MOTION) -> list[dict]:
    """The `segments` of the predict JSON: each segment's dict plus `reps`, `rep_times` (s, from the
    clip's start), `abstain` (a reason, or None) and `form` (push ups with a `form_model`: the verdict's
    dict, else None), from the clip's pose sequence: keypoints (T, J, C) in `layout` at `fps`, NaN where
    `detected` (T,) is False. Segment times are seconds from the sequence's first frame."""
    described = []
    for segment in segments:
        first = max(int(round(segment.start * fps)), 0)
        last = min(int(round(segment.end * fps)), len(keypoints))
        frames, seen = keypoints[first:last], np.asarray(detected[first:last], dtype=bool)
        detection_rate = float(seen.mean()) if len(seen) else 0.0
        reason = abstain_reason(detection_rate, segment.probability, motion_energy(frames, layout),
                                segment.exercise, min_detection_rate=min_detection_rate,
                                min_probability=min_probability, min_motion=min_motion)
        counted = count_reps(frames, layout, fps, segment.exercise)
        form = None
        if form_model is not None and segment.exercise == "push up" and seen.any():
            form = form_verdict(frames, layout, form_model).to_dict()
        described.append({**segment.to_dict(), "reps": counted.reps,
                          "rep_times": [round(first / fps + t, 2) for t in counted.rep_times],
                          "abstain": reason, "form": form})
    return described
