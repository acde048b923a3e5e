"""Calibrate when a model abstains: held-out clips of known exercises against real negatives.

Exercise samples: the clips of the sources the model never trained on, by default the `validation` part
of its split.json (picked from the pose data as `gym-gesture evaluate --split validation` picks them), so
that the test split stays unseen by every choice made for the model. Negatives: the clips of the pose
data of classes the model does not know (the archives' exercises outside its labels, in no part of any
split), and videos of people walking or standing (`../shared/data/people`), run through the model's own
pose backend. All go through `Recognizer.recognize_sequence`, the path of `gym-gesture predict`.

There are few non-exercise clips, so every window of them is a sample too: the thresholds are chosen on
windows (each window of a held-out clip or of a negative clip is one sample) and the clip-level
trade-off is reported beside it. `min_walk_speed` is chosen first (with no probability threshold), then
`min_probability` with it, then `min_motion` with both, each the value that abstains on most negative
windows while losing at most `max_lost` of the held-out windows named right; the walking and motion
thresholds against the clips of people only (`PEOPLE_ONLY`); the detection threshold keeps its default.
Last, the probability threshold is set as high as abstaining on at most `max_abstained` of the held-out
samples of known exercises allows, above or below the rules' choice (`probability_within_budget`): the
negatives are exercises some clip here shows, while the ones that matter are those none shows.
The motion threshold comes last because what it costs is held-out clips that the probability would name
right (a bench press filmed from afar moves its joints by 0.02-0.04 torso lengths). The result, with the
trade-off tables, is written to `calibration.json` in the model folder, where `Recognizer.from_pretrained`
reads it.

Leave-exercise-out (`held_out_types`): pose data of exercise types that neither the model (not even as
outliers) nor the choice of its thresholds saw. They are measured, never chosen on: with the chosen
thresholds, the share abstained on per type, the AUROC of the top probability (the score abstaining reads)
between the held-out clips of known classes and these clips, and the trade-off of the probability
threshold on them. `calibration.json` records this protocol (`protocol`): what the thresholds were chosen
on and against which exercise types, and what they were measured on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..analysis.abstain import DEFAULT_THRESHOLDS, AbstainSample, AbstainThresholds, span_sample
from ..core.errors import InputError, MissingFileError
from ..core.paths import CALIBRATION_FILE
from ..pose import DEFAULT_BACKEND

# Calibration may cost at most this share of the held-out samples named right (see `calibrate_threshold`).
DEFAULT_MAX_LOST = 0.01
# The probability threshold is then set as high as abstaining on at most this share of the held-out known
# samples allows (`probability_within_budget`): the share the project allows on its validation clips (issue #31).
DEFAULT_MAX_ABSTAINED = 0.05

# Candidate values of the calibrated thresholds.
CANDIDATES = {
    "min_walk_speed": np.round(np.arange(0.1, 2.01, 0.1), 2),
    "min_probability": np.round(np.concatenate([np.arange(0.0, 0.951, 0.05), [0.97, 0.99]]), 2),
    # From twice a still body's jitter up (MediaPipe on real plank holds, the body in its proportions as
    # `abstain.span_sample` measures it: 0.008-0.009, `motion_energy`; 0.011-0.012 on x / width and y /
    # height): lower, a person standing still would count as moving, and no negative here shows that.
    "min_motion": np.round(np.arange(0.02, 0.1001, 0.005), 3),
}
# The thresholds chosen against the clips of people not exercising (`negatives`) only: walking and "no
# exercise motion" are about them, while clips of exercises the model does not know are what "not sure"
# (`min_probability`) is for. Chosen against those too, the 7-class model's motion threshold climbed to 0.07,
# catching slow exercises it does not know, and abstained on held-out bench presses it names right.
PEOPLE_ONLY = ("min_walk_speed", "min_motion")


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


def probability_within_budget(exercises: list[AbstainSample], thresholds: AbstainThresholds,
                              max_abstained: float = DEFAULT_MAX_ABSTAINED) -> float:
    """The highest candidate probability threshold at which at most `max_abstained` of the held-out samples
    of known exercises are abstained on (for any reason, with the other `thresholds`): above
    `thresholds.min_probability` where the budget allows, below it where that costs more. When the other
    reasons alone cost more than the budget, no probability threshold meets it: `thresholds.min_probability`
    stays (a lower one would only name more of what the model does not know).

    Exercises that no clip here shows are the ones a user will film, and no threshold can be chosen against
    them; what abstaining costs on the exercises the model knows can be bounded, and within that bound a
    higher threshold abstains on more of what the model does not know (the leave-exercise-out trade-off)."""
    chosen = None
    for value in CANDIDATES["min_probability"]:  # ascending: the share abstained on can only grow
        if abstained_share(exercises, replace(thresholds, min_probability=float(value))) > max_abstained + 1e-9:
            break
        chosen = float(value)
    return thresholds.min_probability if chosen is None else chosen


def abstained_share(samples: list[AbstainSample], thresholds: AbstainThresholds) -> float:
    """The share of `samples` abstained on, for any reason, with `thresholds`."""
    return float(np.mean([sample.reason(thresholds) is not None for sample in samples]))


def _samples(result, keypoints, layout, fps, detected, labels, label=None,
             frame_size=None) -> tuple[AbstainSample | None, list]:
    """The clip's sample and its windows' samples from its `Recognizer.recognize_sequence` result (None
    and [] when the clip gives no window)."""
    if len(result.windows) == 0:
        return None, []
    clip = replace(result.clip_sample, label=label)  # what `predict` read its abstain reason from
    windows = [span_sample(keypoints, layout, fps, detected, start, end, labels[int(row.argmax())], row.max(), label,
                           frame_size=frame_size)
               for (start, end), row in zip(result.windows.spans, result.probabilities)]
    return clip, windows


def _video_files(paths) -> list[Path]:
    from ..data.clips import VIDEO_SUFFIXES

    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(f for f in path.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise MissingFileError(f"{path}: no such file or folder")
    if not files:
        raise InputError(f"no video among the negatives: {', '.join(map(str, paths))}")
    return files


def calibrate(model_dir: str | Path, data, negatives, backend: str = DEFAULT_BACKEND,
              split: str = "validation", max_lost: float = DEFAULT_MAX_LOST, level: str = "windows",
              held_out_types=None, max_abstained: float | None = DEFAULT_MAX_ABSTAINED) -> dict:
    """Calibrate the abstain thresholds of the model in `model_dir` and write `calibration.json` there.

    data: pose datasets / .npz archives holding the model's `split` sources (their clips of classes the
    model does not know are negatives, whatever the split); negatives: videos or
    folders of videos of people not exercising (the project's real data has both: ../shared/data/keypoints
    and ../shared/data/people beside a checkout); max_lost: the share of held-out windows named right
    that a threshold may cost (`calibrate_threshold`); max_abstained: then the probability threshold is
    set as high as abstaining on at most this share of the held-out `level` samples allows
    (`probability_within_budget`; None: the rules' choice stays); held_out_types: pose data of exercises
    outside everything the model and `data` hold, measured with the chosen thresholds (see the module's
    docstring). Returns what was written.
    """
    from tqdm.auto import tqdm

    from .evaluate import recognize_clips, split_pose_datasets
    from ..data.windows import row_frame_size
    from ..inference.recognizer import Recognizer
    from ..pose.sequence import extract_clip

    model_dir = Path(model_dir)
    negatives = _video_files(negatives)
    # Calibration starts from the defaults, never from an earlier calibration.json.
    recognizer = Recognizer.from_pretrained(model_dir, backend=backend, thresholds=DEFAULT_THRESHOLDS)
    labels = recognizer.labels
    datasets = split_pose_datasets(str(model_dir), data, split, known_labels=set(labels))
    exercise = {"clips": [], "windows": []}
    non_exercise = {"clips": [], "windows": []}  # clips of classes the model does not know, and of people
    people = {"clips": [], "windows": []}  # of people not exercising only
    held_out, unknown_class_clips = [], []
    try:
        for row, result in recognize_clips(recognizer, datasets, f"{split} and unknown-class clips"):
            label = str(row["label"])
            known = label in labels
            clip, windows = _samples(result, row["keypoints"], str(row["layout"]), float(row["fps"]),
                                     row["detected"], labels, label if known else None, row_frame_size(row))
            entry = {"clip_id": str(row["clip_id"]), "label": label}
            if clip is None:
                if not known:  # abstained on anyway: `predict` refuses a clip that gives no window
                    unknown_class_clips.append({**entry, "windows": 0, "predicted": None})
                continue
            samples = exercise if known else non_exercise
            samples["clips"].append(clip)
            samples["windows"].extend(windows)
            if known:
                held_out.append({**entry, "predicted": clip.predicted})
            else:
                unknown_class_clips.append({**entry, "windows": len(windows), "clip": clip})
        negative_clips = []
        for path in tqdm(negatives, desc="non-exercise clips"):
            sequence = extract_clip(path, recognizer.backend, recognizer.config.sample_fps,
                                    max_duration=recognizer.max_duration)
            keypoints = sequence.model_coordinates(recognizer.config.num_channels)
            result = recognizer.recognize_sequence(keypoints, sequence.layout, sequence.fps, sequence.detected,
                                                   frame_size=sequence.frame_size)
            clip, windows = _samples(result, keypoints, sequence.layout, sequence.fps, sequence.detected, labels,
                                     frame_size=sequence.frame_size)
            if clip is None:  # nobody found: `predict` refuses such a clip outright
                negative_clips.append({"file": str(path), "windows": 0, "predicted": None})
                continue
            for samples in (non_exercise, people):
                samples["clips"].append(clip)
                samples["windows"].extend(windows)
            negative_clips.append({"file": str(path), "windows": len(windows), "clip": clip})
    finally:
        recognizer.close()
    if not exercise["clips"]:
        raise InputError(f"no {split} clip of a class the model knows in {', '.join(map(str, data))}")
    seen_types = sorted({entry["label"] for entry in unknown_class_clips})

    # The enrolled exercises' own motion thresholds come from their clips (`enroll`), not from here: kept.
    thresholds = replace(DEFAULT_THRESHOLDS, min_probability=0.0,
                         min_motion_by_exercise=AbstainThresholds.for_model(model_dir).min_motion_by_exercise)
    trade_off = {}
    for name, candidates in CANDIDATES.items():
        negative = people if name in PEOPLE_ONLY else non_exercise
        if name in PEOPLE_ONLY and not negative["clips"]:  # no clip of people gave a window: the default stays
            trade_off[name] = {"windows": [], "clips": []}
            continue
        by_level = {level: calibrate_threshold(exercise[level], negative[level], name, candidates, thresholds,
                                                max_lost)
                    for level in ("windows", "clips")}
        thresholds = replace(thresholds, **{name: by_level[level].threshold})
        trade_off[name] = {level: calibration.table for level, calibration in by_level.items()}
    chosen_by_rules = thresholds.min_probability
    if max_abstained is not None:
        thresholds = replace(thresholds, min_probability=probability_within_budget(exercise[level], thresholds,
                                                                                   max_abstained))

    def outcome(sample: AbstainSample) -> dict:
        return {"predicted": sample.predicted, "probability": round(sample.probability, 4),
                "walking_speed": round(sample.walking, 3), "motion": round(sample.motion, 3),
                "abstain": sample.reason(thresholds)}

    for entry in negative_clips + unknown_class_clips:
        entry.update(outcome(entry.pop("clip")) if "clip" in entry else {"abstain": "no person found"})
    for entry, sample in zip(held_out, exercise["clips"]):
        entry["abstain"] = sample.reason(thresholds)
    protocol = {
        "thresholds_chosen_on": f"the {split} clips of the model's split.json ({level}): known classes against "
                                f"the negatives (clips of the exercise types below and of people not exercising)"
                                + ("" if max_abstained is None else
                                   f"; then the probability threshold set as high as abstaining on at most "
                                   f"{max_abstained:g} of the known {level} allows"),
        "negative_types": seen_types,
        "test_split_used": split == "test",
    }
    if held_out_types is not None:
        protocol["held_out_types"] = leave_exercise_out(
            model_dir, held_out_types, thresholds, exercise["clips"], set(labels) | set(seen_types), backend)
    result = {
        "model": str(model_dir), "data": [str(path) for path in data], "split": split,
        "negatives": [str(path) for path in negatives], "chosen_on": level, "max_lost": max_lost,
        "max_abstained": max_abstained,
        "min_probability_by_rules": chosen_by_rules,
        # Every reason counted, with the thresholds written here: what `max_abstained` bounds.
        "known_abstain_rate": {name: round(abstained_share(exercise[name], thresholds), 4)
                               for name in ("clips", "windows")},
        "thresholds": thresholds.to_json(),
        "samples": {level: {"exercise": len(exercise[level]), "non_exercise": len(non_exercise[level]),
                            "people": len(people[level])} for level in ("clips", "windows")},
        "trade_off": trade_off,
        "non_exercise_clips": negative_clips,
        "held_out_clips_abstained": [entry for entry in held_out if entry["abstain"]],
        "unknown_class_clips": unknown_class_clips,
        "protocol": protocol,
    }
    (model_dir / CALIBRATION_FILE).write_text(json.dumps(result, indent=1) + "\n")
    return result


def leave_exercise_out(model_dir: Path, data, thresholds: AbstainThresholds, known: list[AbstainSample],
                       seen: set[str], backend: str) -> dict:
    """Abstaining on every clip of `data`, exercise types that the model and the thresholds never saw
    (`seen`: the model's classes and the negative types the thresholds were chosen against; a clip of one
    of those is an error, not a measurement), against the `known` held-out clips' samples."""
    from sklearn.metrics import roc_auc_score

    from .evaluate import recognize_clips
    from ..data.windows import data_names, load_pose_datasets
    from ..inference.recognizer import Recognizer

    datasets = load_pose_datasets(data)
    overlap = sorted(set().union(*(set(dataset["label"]) for dataset in datasets)) & seen)
    if overlap:
        raise InputError(f"held-out exercise types must be unseen, but the model or its negatives hold: {', '.join(overlap)}")
    recognizer = Recognizer.from_pretrained(model_dir, backend=None, thresholds=thresholds)
    per_type: dict[str, list[bool]] = {}
    probabilities = []
    for row, result in recognize_clips(recognizer, datasets, "held-out exercise types"):
        per_type.setdefault(str(row["label"]), []).append(result.abstain is not None)
        if result.clip_sample is not None:
            probabilities.append(result.clip_sample.probability)
    abstained = [value for values in per_type.values() for value in values]
    known_probabilities = [sample.probability for sample in known]
    scores = np.r_[known_probabilities, probabilities]
    return {
        "data": data_names(data),
        "clips": len(abstained),
        "abstain_rate": round(float(np.mean(abstained)), 4),
        "known_clips": len(known),
        "known_abstain_rate": round(abstained_share(known, thresholds), 4),
        "per_type": {label: {"clips": len(values), "abstain_rate": round(float(np.mean(values)), 4)}
                     for label, values in sorted(per_type.items())},
        "auroc_top_probability": round(float(roc_auc_score(np.r_[np.ones(len(known)), np.zeros(len(probabilities))],
                                                           scores)), 4) if probabilities else None,
        # Each probability threshold: the known clips it keeps named and the held-out clips it abstains on
        # (on the probability alone; the chosen thresholds' other reasons add to both).
        "risk_coverage": [{"min_probability": float(threshold),
                           "known_named": round(float(np.mean(np.asarray(known_probabilities) >= threshold)), 4),
                           "held_out_abstained": round(float(np.mean(np.asarray(probabilities) < threshold)), 4)
                           if probabilities else None}
                          for threshold in CANDIDATES["min_probability"]],
    }


def format_trade_off(result: dict) -> str:
    """The trade-off tables of a calibration as Markdown, as printed by `gym-gesture calibrate`."""
    lines = []
    chosen = result["thresholds"]
    # The tables show what the rules chose; the budget's last word on the probability comes after them.
    ruled = {**chosen, "min_probability": result.get("min_probability_by_rules", chosen["min_probability"])}
    for name, levels in result["trade_off"].items():
        level = result["chosen_on"]
        if not levels["windows"]:
            lines += [f"{name}: the default, {chosen[name]:g} (no clip of people not exercising gave a window)", ""]
            continue
        negatives = "people" if name in PEOPLE_ONLY else "negative"
        lines += [f"{name} (chosen on {level}, losing at most {result['max_lost']:g} of the held-out {level} "
                  f"named right: {ruled[name]:g})", "",
                  f"| threshold | held-out windows named right | {negatives} windows abstained | "
                  f"held-out clips named right | {negatives} clips abstained |",
                  "|---:|---:|---:|---:|---:|"]
        for window, clip in zip(levels["windows"], levels["clips"]):
            value = f"{window['threshold']:g}"
            lines.append(f"| {f'**{value}**' if window['threshold'] == ruled[name] else value} | "
                         f"{window['exercise_named_right']:.3f} | {window['non_exercise_abstained']:.3f} | "
                         f"{clip['exercise_named_right']:.3f} | {clip['non_exercise_abstained']:.3f} |")
        lines.append("")
    if result.get("max_abstained") is not None:
        level, budget = result["chosen_on"], result["max_abstained"]
        by_rules, known = ruled["min_probability"], result["known_abstain_rate"][level]
        probability = chosen["min_probability"]
        moved = "raised" if probability > by_rules else "lowered" if probability < by_rules else "kept"
        lines += [f"min_probability, last, set as high as abstaining on at most {budget:g} of the held-out {level} "
                  f"of known exercises allows: {moved}, {by_rules:g} -> {probability:g}; "
                  f"known {level} abstained on, every reason counted: {known:.3f}"
                  + ("" if known <= budget + 1e-9 else
                     " (over the budget: the other reasons, no person, walking or no motion, alone abstain on more)"),
                  ""]
    samples = result["samples"]
    lines.append(f"{samples['clips']['exercise']} held-out clips ({samples['windows']['exercise']} windows), "
                 f"{samples['clips']['non_exercise']} negative clips ({samples['windows']['non_exercise']} windows; clips of "
                 f"classes the model does not know and of people not exercising), of them "
                 f"{samples['clips']['people']} clips of people ({samples['windows']['people']} windows: "
                 f"the negatives of {' and '.join(PEOPLE_ONLY)})")
    held_out = result.get("protocol", {}).get("held_out_types")
    if held_out:
        lines += ["", f"Leave-exercise-out: {held_out['clips']} clips of {len(held_out['per_type'])} exercise types "
                      f"nothing here saw, abstained on {held_out['abstain_rate']:.3f} (known held-out clips: "
                      f"{held_out['known_abstain_rate']:.3f}); AUROC of the top probability "
                      f"{held_out['auroc_top_probability']}", "", "| exercise type | clips | abstained |", "|---|---:|---:|"]
        lines += [f"| {label} | {entry['clips']} | {entry['abstain_rate']:.3f} |"
                  for label, entry in held_out["per_type"].items()]
    return "\n".join(lines)
