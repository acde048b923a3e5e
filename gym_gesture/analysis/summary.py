"""The workout summary: one row per set, the form a person takes home (CSV or JSON).

A set is a segment of the timeline that names an exercise (`prediction.Segment` with no abstain
reason): its exercise, start and end, reps, tempo (seconds per rep, from the times the reps came back to
rest), the range of motion of the exercise's main joint (`reps.MAIN_JOINT_ANGLES`), the hold time of a
hold, the form verdict and what to change in the form (`form.form_verdict`'s hint). Segments the
recognizer abstained on are no set: nothing is claimed of them.
`predict --summary FILE.csv`, the app's downloads and live mode's `summary()` all write this form.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .prediction import Segment
from .reps import MAIN_JOINT_ANGLES


@dataclass
class WorkoutSet:
    """One set: times in seconds from the clip's (or live session's) start; None where it does not apply."""

    exercise: str
    start_s: float
    end_s: float
    reps: int
    tempo_s_per_rep: float | None  # mean time between consecutive reps; None under 2 reps
    range_of_motion_deg: float | None
    main_joint: str | None  # the joint whose angle `range_of_motion_deg` measures
    hold_s: float | None  # holds (plank) only
    form: str | None  # the push-up form verdict (`form.GOOD` / `form.CHECK`), None where none is made
    form_advice: str | None  # what to change, in a plain sentence, after `form.CHECK`; None otherwise


SUMMARY_COLUMNS = tuple(field.name for field in fields(WorkoutSet))


def workout_sets(segments: list[Segment]) -> list[WorkoutSet]:
    """The sets of a timeline, in time order."""
    sets = []
    for segment in segments:
        if segment.abstain is not None:
            continue
        times = segment.rep_times
        tempo = (times[-1] - times[0]) / (len(times) - 1) if len(times) >= 2 else None
        joint = MAIN_JOINT_ANGLES.get(segment.exercise)
        sets.append(WorkoutSet(
            exercise=segment.exercise, start_s=segment.start, end_s=segment.end, reps=segment.reps,
            tempo_s_per_rep=None if tempo is None else round(tempo, 2),
            range_of_motion_deg=segment.range_of_motion,
            main_joint=joint[0] if joint and segment.range_of_motion is not None else None,
            hold_s=segment.hold_s, form=segment.form.verdict if segment.form is not None else None,
            form_advice=segment.form.hint if segment.form is not None else None))
    return sets


def summary_json(sets: list[WorkoutSet]) -> dict:
    """The JSON form: `{"sets": [one object per set, keys SUMMARY_COLUMNS]}`."""
    return {"sets": [asdict(workout_set) for workout_set in sets]}


def write_summary(sets: list[WorkoutSet], path: str | Path) -> Path:
    """Writes the sets as CSV (header SUMMARY_COLUMNS, empty cells for None) or, for a `.json` path, as
    `summary_json`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(summary_json(sets), indent=1) + "\n")
        return path
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        for workout_set in sets:
            writer.writerow({key: "" if value is None else value for key, value in asdict(workout_set).items()})
    return path


__all__ = ["SUMMARY_COLUMNS", "WorkoutSet", "summary_json", "workout_sets", "write_summary"]
