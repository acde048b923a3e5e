"""Reps for any exercise: the class-agnostic counter (`reps.count_any_reps`) against the per-exercise
counters (`reps.count_reps`) and a constant count, on clips whose reps are known.

Clips: the repository's rep-count clips (`tests/fixtures/rep_counts.json`: counted by eye; their videos in
`../shared/data/videos`) and 27 clips of 15 of the 22 exercises in `../shared/data/clips22`
(`tests/fixtures/clips22_rep_counts.json`: counted by eye the same way; one shot of an edited clip), both
posed with the default pose backend at the shipped model's frame rate, as `predict` counts them; 23 long
clips of the gym5 archive (`tests/fixtures/gym5_rep_counts.json`: 3 to 76 reps counted by eye on stick
figures of their skeletons, the videos not being in the data; see its note); and the Fit3D sequences of
`../shared/data/keypoints/fit3d5_mediapipe33.npz` (`tests/fixtures/fit3d_rep_counts.json`: derived from each
exercise's own joint signal and checked by eye, see its note).
The constant baseline counts every clip of 5 or more reps as their median (the best constant for them).
The counters' range windows (`reps.RANGE_WINDOW_S`, `reps.ANY_RANGE_WINDOW_S`) were chosen on the Fit3D
sequences of odd recording numbers, each the best of 3 to 7 s there for its counter; the even ones' and the
videos' figures were printed beside them, not used to choose.

    python -m benchmarks.reps --out results/reps
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gym_gesture.analysis.reps import count_any_reps, count_reps

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MANY_REPS = 5
COUNTED_BY_EYE = {"videos": "rep_counts.json", "clips22": "clips22_rep_counts.json"}


def counted_clips(folder: str, backend, fps: float) -> list[dict]:
    """The clips of one data folder counted by eye (`COUNTED_BY_EYE`), posed with `backend` at `fps`."""
    from gym_gesture.pose.sequence import extract_clip

    counted = json.loads((FIXTURES / COUNTED_BY_EYE[folder]).read_text())["clips"]
    clips = []
    for name, known in tqdm(counted.items(), desc=folder):
        sequence = extract_clip(SHARED_DATA / folder / name, backend, fps)
        # An edited clip is counted on the one shot its reps were counted in.
        shot = slice(round(known.get("start_s", 0.0) * sequence.fps),
                     round(known["end_s"] * sequence.fps) + 1 if "end_s" in known else None)
        clips.append({"clip": name, "source": folder, "keypoints": sequence.keypoints[shot],
                      "layout": sequence.layout, "fps": sequence.fps, "exercise": known["exercise"],
                      "reps": known["reps"]})
    return clips


def video_clips(fps: float) -> list[dict]:
    """Every clip counted by eye, posed with the default pose backend at `fps`, as `predict` poses them."""
    from gym_gesture.pose import DEFAULT_BACKEND, create_backend

    with create_backend(DEFAULT_BACKEND) as backend:
        return [clip for folder in COUNTED_BY_EYE for clip in counted_clips(folder, backend, fps)]


def archive_clips(source: str, fixture: str) -> list[dict]:
    """The clips of a keypoint archive with known reps (`fixture`: its `archive`, `fps` and clips by id)."""
    reference = json.loads((FIXTURES / fixture).read_text())
    clips = []
    with np.load(SHARED_DATA / "keypoints" / reference["archive"]) as archive:
        for name, known in reference["clips"].items():
            # A clip counted on one stretch is counted there.
            stretch = slice(known.get("start_frame", 0), known["end_frame"] + 1 if "end_frame" in known else None)
            clips.append({"clip": name, "source": source,
                          "keypoints": archive[f"{known['exercise']}/{name}"][stretch, :, :3],
                          "layout": "mediapipe33", "fps": float(reference["fps"]), "exercise": known["exercise"],
                          "reps": known["reps"]})
    return clips


def recording_number(clip: str) -> int:
    """The recording number in a Fit3D clip id (`fit3d_barbell_row13` -> 13, `..._curl1_b` -> 1)."""
    return int(re.findall(r"\d+", clip)[-1])


def summary(errors: np.ndarray) -> dict:
    return {"clips": int(len(errors)), "within_one": round(float((errors <= 1).mean()), 3),
            "exact": round(float((errors == 0).mean()), 3), "mean_absolute_error": round(float(errors.mean()), 3)}


def run(out: Path) -> dict:
    from gym_gesture import GymGestureConfig
    from gym_gesture.core.paths import DEFAULT_MODEL_DIR

    clips = (video_clips(GymGestureConfig.from_pretrained(DEFAULT_MODEL_DIR).sample_fps)
             + archive_clips("gym5", "gym5_rep_counts.json") + archive_clips("fit3d", "fit3d_rep_counts.json"))
    truth = np.array([clip["reps"] for clip in clips])
    many = truth >= MANY_REPS
    constant = int(np.median(truth[many]))
    counted = {
        "class-agnostic (count_any_reps)": [count_any_reps(c["keypoints"], c["layout"], c["fps"]).reps for c in clips],
        "per-exercise, own signal only": [count_reps(c["keypoints"], c["layout"], c["fps"], c["exercise"],
                                                     fall_back=False).reps for c in clips],
        "per-exercise (count_reps: own signal, else class-agnostic)": [
            count_reps(c["keypoints"], c["layout"], c["fps"], c["exercise"]).reps for c in clips],
        f"constant {constant}": [constant] * len(clips),
    }
    fit3d = np.array([c["source"] == "fit3d" for c in clips])
    odd = fit3d & np.array([recording_number(c["clip"]) % 2 == 1 if c["source"] == "fit3d" else False for c in clips])
    groups = {"all clips": np.ones(len(clips), bool), f"clips of {MANY_REPS}+ reps": many,
              "videos (rep_counts.json)": np.array([c["source"] == "videos" for c in clips]),
              "clips22 (clips22_rep_counts.json)": np.array([c["source"] == "clips22" for c in clips]),
              "gym5 (gym5_rep_counts.json)": np.array([c["source"] == "gym5" for c in clips]),
              f"clips of {MANY_REPS}+ reps outside fit3d": many & np.array([c["source"] != "fit3d" for c in clips]),
              "fit3d": fit3d, "fit3d, odd recordings (chose the range windows)": odd,
              "fit3d, even recordings": fit3d & ~odd}
    table = {name: {group: summary(np.abs(np.array(counts) - truth)[chosen]) for group, chosen in groups.items()}
             for name, counts in counted.items()}
    predict_counter = counted["per-exercise (count_reps: own signal, else class-agnostic)"]
    exercises = np.array([c["exercise"] for c in clips])
    per_exercise = {exercise: summary(np.abs(np.array(predict_counter) - truth)[exercises == exercise])
                    for exercise in sorted(set(exercises))}
    rows = [{"clip": c["clip"], "exercise": c["exercise"], "reps": c["reps"],
             **{name: counts[i] for name, counts in counted.items()}} for i, c in enumerate(clips)]
    result = {"table": table, "per_exercise": per_exercise, "clips": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["| counter | " + " | ".join(f"{group}: within 1 / MAE" for group in groups) + " |",
             "|---|" + "---:|" * len(groups)]
    for name, by_group in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{s['within_one']:.3f} / {s['mean_absolute_error']:.2f} ({s['clips']})"
                                                for s in by_group.values()) + " |")
    lines += ["", "Per exercise, predict's counter (count_reps):", "",
              "| exercise | clips | within 1 | exact | MAE |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {exercise} | {s['clips']} | {s['within_one']:.3f} | {s['exact']:.3f} | {s['mean_absolute_error']:.2f} |"
              for exercise, s in per_exercise.items()]
    out.with_suffix(".md").write_text(__doc__.split("\n\n")[0] + "\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "reps",
                        help="results path without suffix (.json and .md)")
    run(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
