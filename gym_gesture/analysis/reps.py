"""Rep counting from the skeleton: one periodic signal per exercise, smoothed, counted with hysteresis.

Each exercise has a signal that swings once per rep (an elbow angle, a knee angle, the wrists' height
over the shoulders, the hands' sideways offset) and a "rest" side of that swing (arms straight for a
push up, legs straight for a squat). A rep is counted when the signal, having been at rest, goes through
the working side and comes back. The two thresholds sit at fixed fractions of the signal's robust range
(5th to 95th percentile) over the few seconds around each frame (`RANGE_WINDOW_S`), so jitter around one
threshold never counts twice, getting into position (which swings further than the reps) does not lift
the reps out of reach, and a swing smaller than the exercise's minimum amplitude (a plank, someone
standing still) counts nothing. A stretch at the start before the first rest position (walking in, lying
down) is never a rep, and a cycle slower than `max_rep_s` (getting up, walking about between sets) is not
one either.

An exercise with no signal of its own (one enrolled from a few clips, `gym-gesture enroll`) is counted
on the skeleton's dominant motion (`count_any_reps`): whatever moves most, back and forth, is the rep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InputError
from ..model.skeleton import convert, get_layout, joint_angle, normalize

_H36M = get_layout("h36m17").index
# `dominant_motion`: motion slower than this (s, a Gaussian's sigma) is drift, not reps. Reps of 2-3 s pass
# almost whole; 1.5 and 2 s let more of getting into position through (benchmarks/reps.py).
DRIFT_S = 1.0
# `count_cycles`: the span (s) of signal whose range places the thresholds at each frame. Over the whole clip,
# bending over for a barbell row or lying down for a push up outweighs the reps; 5-6 s hold two or more.
# Each chosen on the Fit3D sequences of odd recording numbers (`python -m benchmarks.reps`, within one rep).
# The exercises' own signals: 0.919 at 4 s, 0.959 at 4.5 s, 0.973 at 5 and 5.5 s (mean error 0.14 and
# 0.16), 0.932 at 6 s, 0.608 with the whole clip's range.
RANGE_WINDOW_S = 5.0
# The dominant motion (`count_any_reps`): 0.905 at 5 s, 0.946 at 6 and 6.5 s, 0.919 at 7 s, 0.865 with the
# whole clip's range.
ANY_RANGE_WINDOW_S = 6.0
# `count_any_reps`: the least swing of the dominant motion, summed over the joints that move together
# (torso lengths): about a forearm's travel, well over a still person's jitter.
ANY_MIN_AMPLITUDE = 0.5
# `count_reps`: the dominant motion's count replaces an own signal's 0 from this many reps. At 1, getting down
# into a push up named a bent-over row counted a rep live; on the rep benchmark's 272 clips 1 and 2 are
# within one rep on the same 0.963 (mean error 0.20 and 0.22).
FALL_BACK_MIN_REPS = 2


def _mean_sides(keypoints: np.ndarray, joints: tuple[str, str, str]) -> np.ndarray:
    angles = np.stack([joint_angle(*(keypoints[:, _H36M[f"{side}_{joint}"]] for joint in joints))
                       for side in ("left", "right")])
    seen = np.isfinite(angles).sum(0)
    return np.where(seen > 0, np.nansum(angles, axis=0) / np.maximum(seen, 1), np.nan)


def _torso_length(keypoints: np.ndarray) -> float:
    torso = np.linalg.norm(keypoints[:, _H36M["thorax"], :2] - keypoints[:, _H36M["pelvis"], :2], axis=-1)
    torso = torso[np.isfinite(torso) & (torso > 1e-6)]
    return float(np.median(torso)) if len(torso) else 1.0


def elbow_angle(keypoints: np.ndarray) -> np.ndarray:
    return _mean_sides(keypoints, ("shoulder", "elbow", "wrist"))


def knee_angle(keypoints: np.ndarray) -> np.ndarray:
    return _mean_sides(keypoints, ("hip", "knee", "ankle"))


def hip_angle(keypoints: np.ndarray) -> np.ndarray:
    return _mean_sides(keypoints, ("shoulder", "hip", "knee"))


def wrist_height(keypoints: np.ndarray) -> np.ndarray:
    """Wrists above the shoulders, in torso lengths (image y points down)."""
    wrists = (keypoints[:, _H36M["left_wrist"], 1] + keypoints[:, _H36M["right_wrist"], 1]) / 2
    shoulders = (keypoints[:, _H36M["left_shoulder"], 1] + keypoints[:, _H36M["right_shoulder"], 1]) / 2
    return (shoulders - wrists) / _torso_length(keypoints)


def shoulder_height(keypoints: np.ndarray) -> np.ndarray:
    """Shoulders' height in the image, in torso lengths: for a push up the hands and feet stay put, so
    this is the body's height over the floor whatever the camera's angle on the elbows (which is often
    too oblique for an elbow angle), and it does not depend on the wrists, which jitter on the floor."""
    shoulders = (keypoints[:, _H36M["left_shoulder"], 1] + keypoints[:, _H36M["right_shoulder"], 1]) / 2
    return -shoulders / _torso_length(keypoints)


def shoulders_over_wrists(keypoints: np.ndarray) -> np.ndarray:
    """Shoulders above the wrists, in torso lengths: the body's height under the bar (pull up), robust
    to the camera panning or zooming."""
    return -wrist_height(keypoints)


def shoulder_angle(keypoints: np.ndarray) -> np.ndarray:
    """The arm's angle from the torso (hip-shoulder-elbow): raises, presses and flyes swing it."""
    return _mean_sides(keypoints, ("hip", "shoulder", "elbow"))


def hands_sideways(keypoints: np.ndarray) -> np.ndarray:
    """Hands' offset from the pelvis along the image x axis, in torso lengths: swings with a twist."""
    wrists = (keypoints[:, _H36M["left_wrist"], 0] + keypoints[:, _H36M["right_wrist"], 0]) / 2
    return (wrists - keypoints[:, _H36M["pelvis"], 0]) / _torso_length(keypoints)


def dominant_motion(keypoints: np.ndarray, fps: float) -> np.ndarray:
    """The skeleton's dominant back-and-forth motion, for any exercise: the x, y of every joint (hips
    centered, in torso lengths, `skeleton.normalize`), less their slow drift (a Gaussian of `DRIFT_S`:
    getting into position, lying down, standing up), projected on their first principal component over
    the clip, so the joints that move most, together, make the signal. NaN in frames with a joint missing."""
    from scipy.ndimage import gaussian_filter1d

    signal = np.full(len(keypoints), np.nan)
    try:
        joints = normalize(keypoints[..., :2], "h36m17").reshape(len(keypoints), -1)
    except ValueError:  # no frame with hips and shoulders
        return signal
    present = np.isfinite(joints).all(axis=1)
    if present.sum() < 3:
        return signal
    joints = np.stack([_fill_gaps(trajectory) for trajectory in joints.T], axis=1)
    moving = joints - gaussian_filter1d(joints, sigma=DRIFT_S * fps, axis=0, mode="nearest")
    centered = moving[present] - moving[present].mean(axis=0)
    direction = np.linalg.svd(centered, full_matrices=False)[2][0]
    signal[present] = centered @ direction
    return signal


@dataclass(frozen=True)
class RepSignal:
    """How one exercise's reps show: `signal(h36m keypoints) -> (T,)`, which side is rest, the least swing."""

    signal: Callable[[np.ndarray], np.ndarray]
    rest_is_high: bool | None  # None: a symmetric swing (twist), rest is the side the person starts on
    min_amplitude: float  # degrees for angles, torso lengths for positions


_ANGLE_SWING = 35.0
ELBOW_REST_STRAIGHT = RepSignal(elbow_angle, rest_is_high=True, min_amplitude=_ANGLE_SWING)
BODY_OVER_FLOOR = RepSignal(shoulder_height, rest_is_high=True, min_amplitude=0.4)
BODY_UNDER_HANDS = RepSignal(shoulders_over_wrists, rest_is_high=False, min_amplitude=0.4)
ELBOW_REST_BENT = RepSignal(elbow_angle, rest_is_high=False, min_amplitude=_ANGLE_SWING)
KNEE = RepSignal(knee_angle, rest_is_high=True, min_amplitude=_ANGLE_SWING)
HIP = RepSignal(hip_angle, rest_is_high=True, min_amplitude=_ANGLE_SWING)
# A deadlift starts each rep from the floor and a hip thrust from the bottom: rest is the hips bent.
HIP_REST_BENT = RepSignal(hip_angle, rest_is_high=False, min_amplitude=_ANGLE_SWING)
HANDS_RAISED = RepSignal(wrist_height, rest_is_high=False, min_amplitude=0.4)
HANDS_LOWERED = RepSignal(wrist_height, rest_is_high=True, min_amplitude=0.4)
TWIST = RepSignal(hands_sideways, rest_is_high=None, min_amplitude=0.3)

# Exercises of the 22 with no entry (plank) are holds: 0 reps.
REP_SIGNALS: dict[str, RepSignal] = {
    "barbell biceps curl": ELBOW_REST_STRAIGHT,
    "hammer curl": ELBOW_REST_STRAIGHT,
    "push up": BODY_OVER_FLOOR,
    "bench press": ELBOW_REST_STRAIGHT,
    "incline bench press": ELBOW_REST_STRAIGHT,
    "decline bench press": ELBOW_REST_STRAIGHT,
    "tricep dips": ELBOW_REST_STRAIGHT,
    "tricep pushdown": ELBOW_REST_BENT,
    "t bar row": ELBOW_REST_STRAIGHT,
    "chest fly machine": HANDS_LOWERED,
    "pull up": BODY_UNDER_HANDS,
    "lat pulldown": ELBOW_REST_STRAIGHT,
    "shoulder press": HANDS_RAISED,
    "lateral raises": HANDS_RAISED,
    "squat": KNEE,
    "deadlift": HIP_REST_BENT,
    "romanian deadlift": HIP,
    "hip thrust": HIP_REST_BENT,
    "leg extension": RepSignal(knee_angle, rest_is_high=False, min_amplitude=_ANGLE_SWING),
    "leg raises": HIP,
    "russian twist": TWIST,
}


# The joint whose angle an exercise moves most: its range of motion goes into the workout summary.
# Exercises with no entry (plank, russian twist: a twist is not a joint angle in the image) have none.
MAIN_JOINT_ANGLES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    **{exercise: ("elbow", elbow_angle) for exercise in (
        "barbell biceps curl", "hammer curl", "push up", "bench press", "incline bench press", "decline bench press",
        "tricep dips", "tricep pushdown", "t bar row", "pull up", "lat pulldown", "shoulder press")},
    **{exercise: ("shoulder", shoulder_angle) for exercise in ("lateral raises", "chest fly machine")},
    **{exercise: ("knee", knee_angle) for exercise in ("squat", "leg extension")},
    **{exercise: ("hip", hip_angle) for exercise in ("deadlift", "romanian deadlift", "hip thrust", "leg raises")},
}


def _of_the_22(exercise: str) -> str | None:
    """The canonical name of an exercise of the 22, None for any other (one enrolled from a few clips)."""
    from ..data.labels import canonical_label

    try:
        return canonical_label(exercise)
    except InputError:
        return None


def range_of_motion(keypoints: np.ndarray, layout: str, exercise: str) -> float | None:
    """Degrees the exercise's main joint angle (`MAIN_JOINT_ANGLES`) swings over a pose sequence, from
    its 5th to its 95th percentile so that one jittery frame does not widen it; None for an exercise
    with no main joint (a hold, an enrolled exercise) or a sequence with no frame where the angle is seen."""
    entry = MAIN_JOINT_ANGLES.get(_of_the_22(exercise))
    if entry is None:  # a hold, or an enrolled exercise: which joint it works is not known
        return None
    angles = entry[1](convert(np.asarray(keypoints, dtype=np.float32), layout))
    angles = angles[np.isfinite(angles)]
    if len(angles) == 0:
        return None
    low, high = np.percentile(angles, [5, 95])
    return float(high - low)


@dataclass
class RepCount:
    """`reps` counted; `rep_times` (s from the sequence's first frame) when each rep came back to rest."""

    reps: int
    rep_times: list[float] = field(default_factory=list)


def _fill_gaps(signal: np.ndarray) -> np.ndarray:
    """Interpolate over frames with no person; NaN throughout when fewer than 2 frames have one."""
    valid = np.isfinite(signal)
    if valid.sum() < 2:
        return np.full_like(signal, np.nan)
    frames = np.arange(len(signal))
    return np.interp(frames, frames[valid], signal[valid])


def _windowed_range(signal: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 5th and 95th percentiles of `signal` over the `size` frames (odd) centered on each frame, the
    window shifted inside the signal near its ends (never padded: a padded edge would shrink the range of
    a rep at the start or end of a short clip); the whole signal's when it is no longer than `size`."""
    from scipy.ndimage import percentile_filter

    if len(signal) <= size:
        return np.full_like(signal, np.percentile(signal, 5)), np.full_like(signal, np.percentile(signal, 95))
    half = size // 2
    bottom, top = (percentile_filter(signal, percentile, size=size, mode="nearest") for percentile in (5, 95))
    for value in (bottom, top):  # the first and last full windows hold for the frames before and after them
        value[:half], value[-half:] = value[half], value[-half - 1]
    return bottom, top


def count_cycles(signal: np.ndarray, fps: float, *, rest_is_high: bool | None, min_amplitude: float,
                 low: float = 0.35, high: float = 0.65, smooth_s: float = 0.1,
                 min_rep_s: float = 0.25, max_rep_s: float = 8.0,
                 range_window_s: float = RANGE_WINDOW_S) -> RepCount:
    """Count rest -> work -> rest cycles in a 1-D signal (NaN: no person) sampled at `fps`.

    Thresholds at fractions `low` / `high` of the robust range (5th-95th percentile) of the smoothed
    signal over the `range_window_s` seconds around each frame; where that range is under
    `min_amplitude` nothing changes state. A cycle counts when it lasts between `min_rep_s` and
    `max_rep_s` from leaving rest to coming back (a push up at two a second is away from rest about
    0.3 s). `rest_is_high=None`: the side of the whole signal's range that it reaches first is rest.
    """
    from scipy.ndimage import gaussian_filter1d  # a quarter second to import: not on the CLI's refusal path

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    signal = _fill_gaps(np.asarray(signal, dtype=np.float64))
    if not np.isfinite(signal).all() or len(signal) < 3:
        return RepCount(0)
    signal = gaussian_filter1d(signal, sigma=max(smooth_s * fps, 0.5), mode="nearest")
    bottom, top = np.percentile(signal, [5, 95])
    if top - bottom < min_amplitude:
        return RepCount(0)
    if rest_is_high is None:
        outer = np.flatnonzero((signal <= bottom + low * (top - bottom)) | (signal >= bottom + high * (top - bottom)))
        rest_is_high = bool(signal[outer[0]] > (bottom + top) / 2)
    if not rest_is_high:
        signal = -signal
    bottom, top = _windowed_range(signal, max(3, int(round(range_window_s * fps)) | 1))
    swinging = top - bottom >= min_amplitude
    enter_work, enter_rest = bottom + low * (top - bottom), bottom + high * (top - bottom)

    rep_times: list[float] = []
    state, left_rest = None, 0
    for frame, value in enumerate(signal):
        if not swinging[frame]:
            continue
        if value >= enter_rest[frame] and state != "rest":
            if state == "work" and min_rep_s * fps <= frame - left_rest <= max_rep_s * fps:
                rep_times.append(frame / fps)
            state = "rest"
        elif value <= enter_work[frame] and state == "rest":
            state = "work"
            # The cycle starts when the signal last left the rest level, not when it crossed into work.
            left_rest = frame
            while left_rest > 0 and signal[left_rest - 1] < enter_rest[left_rest - 1]:
                left_rest -= 1
        elif value <= enter_work[frame] and state is None:
            state = "setup"  # at work before any rest: walking in or starting mid-rep, never a rep
    return RepCount(len(rep_times), rep_times)


def count_any_reps(keypoints: np.ndarray, layout: str, fps: float) -> RepCount:
    """Reps of any exercise, on the skeleton's `dominant_motion`: keypoints (T, J, C) in `layout` (NaN: no
    person) at `fps`. The rest side is the one the person starts on."""
    signal = dominant_motion(convert(np.asarray(keypoints, dtype=np.float32), layout), fps)
    return count_cycles(signal, fps, rest_is_high=None, min_amplitude=ANY_MIN_AMPLITUDE,
                        range_window_s=ANY_RANGE_WINDOW_S)


def count_reps(keypoints: np.ndarray, layout: str, fps: float, exercise: str, *,
               fall_back: bool = True) -> RepCount:
    """Reps of `exercise` in a pose sequence: keypoints (T, J, C) in `layout` (NaN: no person) at `fps`.
    An exercise of the 22 is counted on its own signal (none for a hold), any other (one enrolled from a
    few clips) with `count_any_reps`. Where the own signal counts nothing but the dominant motion counts
    `FALL_BACK_MIN_REPS` or more, those count: a variant the signal does not see (a machine fly filmed from
    the front, bench dips from behind) still gets its visible reps, never 0; one stray movement (getting
    down into position) is not a rep (`fall_back=False`: the own signal alone, as the benchmark compares)."""
    exercise = _of_the_22(exercise)
    if exercise is None:  # an enrolled exercise, or one no model knows
        return count_any_reps(keypoints, layout, fps)
    spec = REP_SIGNALS.get(exercise)
    if spec is None:
        return RepCount(0)
    signal = spec.signal(convert(np.asarray(keypoints, dtype=np.float32), layout))
    own = count_cycles(signal, fps, rest_is_high=spec.rest_is_high, min_amplitude=spec.min_amplitude)
    if own.reps or not fall_back:
        return own
    dominant = count_any_reps(keypoints, layout, fps)
    return dominant if dominant.reps >= FALL_BACK_MIN_REPS else own
