"""The default 22-class model against issue #31's targets: one command, one table, the JSON of every figure.

Every figure is on sources the model never trained on, through the paths a user runs:
- `evaluate-videos` (videos through `Recognizer.predict`, the deployed path): the held-out test sources of
  the known classes' real videos (`--videos`, a manifest or folder read with the model's split.json), and
  the videos of exercise types that neither the model nor its thresholds saw (`--unseen-videos`);
- `evaluate` (keypoint data through `Recognizer.recognize_sequence`, the same abstain decision): the test
  split of `--data`, and of it the gym5 and Penn Action archives on their own (those it holds);
- leave-exercise-out on validation: read from the model's `calibration.json`, as `gym-gesture calibrate
  --held-out-types` wrote it (that command is where it is measured, with the thresholds it chose);
- reps: read from `python -m benchmarks.reps`'s JSON (`--reps`), which counts with each clip's true exercise.

    python -m benchmarks.gym22_targets --model gym_gesture/checkpoints/gym22-transformer \\
        --data $DATA $C/folds/unknown_fold1 --videos $C/folds/clips22_views.json \\
        --unseen-videos $C/folds_views/unknown_held_out0_videos.json --reps results/reps.json --out results/gym22

writes `OUT/targets.json` and `OUT/targets.md`, and each evaluation's JSON beside them (`test.json`,
`test_gym5.json`, `test_penn_action.json`, `predict_test_clips22.json`, `predict_unseen_types_views.json`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gym_gesture.inference.recognizer import resolve_model_dir
from gym_gesture.training.evaluate import evaluate
from gym_gesture.training.video_eval import evaluate_videos

ARCHIVES = ("gym5", "penn_action")  # measured on their own too, when `--data` holds them
REPS_COUNTER = "per-exercise (count_reps: own signal, else class-agnostic)"
REPS_CONSTANT = "constant 5"
EVERYDAY_SPORTS = ("held-out clips of everyday sports: abstained", "not measurable: no such clips here "
                   "(the Penn Action archive here holds its 7 gym classes only)", ">= 0.90", None)


def _met(value: float, target: str) -> str:
    bound = float(target.split()[-1])
    return "yes" if (value >= bound if target.startswith(">=") else value <= bound) else "no"


def _row(name: str, value: float, detail: str, target: str) -> tuple[str, str, str, str]:
    return name, f"{value:.3f} ({detail})", target, _met(value, target)


def measure(model: str, data: list[str], videos: list[str], unseen_videos: list[str], reps: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    model_dir = resolve_model_dir(model)
    test = evaluate(str(model_dir), data, split="test", json_path=out / "test.json")
    archives = {archive: [path for path in data if Path(path).name.startswith(archive)] for archive in ARCHIVES}
    alone = {archive: evaluate(str(model_dir), paths, split="test", json_path=out / f"test_{archive}.json")
             for archive, paths in archives.items() if paths}
    known = evaluate_videos(model_dir, videos, split="test")
    unseen = evaluate_videos(model_dir, unseen_videos, other_exercises=True)
    for name, result in (("predict_test_clips22.json", known), ("predict_unseen_types_views.json", unseen)):
        (out / name).write_text(json.dumps(result, indent=1) + "\n")
    held_out = json.loads((model_dir / "calibration.json").read_text())["protocol"]["held_out_types"]
    counted = json.loads(reps.read_text())["table"]
    counter, constant = counted[REPS_COUNTER]["all clips"], counted[REPS_CONSTANT]["all clips"]

    abstained_on_unseen = unseen["unknown_class_abstained"] / unseen["unknown_class_clips"]
    archive_rows = []
    if "gym5" in alone:
        gym5 = alone["gym5"]
        archive_rows.append(_row("gym5 archive held-out sources: clip accuracy", gym5["clip_accuracy"],
                                 f"{gym5['num_clips']} clips", ">= 0.97"))
    if "penn_action" in alone:
        penn = alone["penn_action"]
        archive_rows.append(("Penn Action held-out clips of the known classes: abstained",
                             f"{penn['known_abstain_rate']:.3f} ({penn['num_clips']} clips)", "", None))
    rows = [
        _row("held-out real videos of the 22 through `predict`: named right", known["accuracy"],
             f"{known['correct']} of {known['clips']}", ">= 0.85"),
        _row("the same videos: abstained", known["abstain_rate"], f"of {known['clips']}", "<= 0.08"),
        _row("videos of gym exercise types nothing saw, through `predict`: abstained", abstained_on_unseen,
             f"{unseen['unknown_class_abstained']} of {unseen['unknown_class_clips']}", ">= 0.80"),
        EVERYDAY_SPORTS,
        _row("validation, leave-exercise-out: held-out types abstained", held_out["abstain_rate"],
             f"{held_out['clips']} clips of {len(held_out['per_type'])} types, AUROC of the top probability "
             f"{held_out['auroc_top_probability']:.3f}", ">= 0.80"),
        _row("validation, leave-exercise-out: known clips abstained", held_out["known_abstain_rate"],
             f"of {held_out['known_clips']}", "<= 0.05"),
        _row("reps within one of the count by eye", counter["within_one"],
             f"{counter['clips']} clips, with the clip's true exercise", ">= 0.90"),
        _row("reps: mean absolute error", counter["mean_absolute_error"],
             f"best constant count: {constant['mean_absolute_error']:.2f}", "<= 0.5"),
        *archive_rows,
        ("test split of the keypoint data, all sources: known clips abstained",
         f"{test['known_abstain_rate']:.3f} ({test['num_clips']} clips; clip accuracy {test['clip_accuracy']:.3f}, "
         f"macro F1 {test['clip_macro_f1']:.3f})", "", None),
    ]
    table = "\n".join(["| figure | measured | target | met |", "|---|---:|---:|---|",
                       *(f"| {name} | {value} | {target} | {met or ''} |" for name, value, target, met in rows)])
    result = {"model": str(model), "data": data, "videos": videos, "unseen_videos": unseen_videos, "reps": str(reps),
              "figures": {name: {"measured": value, "target": target, "met": met} for name, value, target, met in rows}}
    (out / "targets.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "targets.md").write_text(table + "\n")
    return {"table": table, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gym22-transformer")
    parser.add_argument("--data", nargs="+", required=True, help="keypoint data of the model's split")
    parser.add_argument("--videos", nargs="+", required=True, metavar="VIDEO_DIR_OR_MANIFEST",
                        help="real videos of the 22, measured on the model's test sources")
    parser.add_argument("--unseen-videos", nargs="+", required=True, metavar="VIDEO_DIR_OR_MANIFEST",
                        help="videos of exercise types outside the 22 that neither the model nor its thresholds saw")
    parser.add_argument("--reps", type=Path, default=Path("results/reps.json"), help="benchmarks.reps's JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(measure(args.model, args.data, args.videos, args.unseen_videos, args.reps, args.out)["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
