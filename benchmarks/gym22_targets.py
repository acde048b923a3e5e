"""The 22-class model against issue #12's targets: one command, one table, the JSON of every figure.

Every figure is on held-out sources of the model's split.json (test, unless said), through the paths a
user runs: `evaluate` (keypoint data, through `Recognizer.recognize_sequence`, the abstain decision of
predict) and `evaluate-videos` (videos, through `Recognizer.predict`).

    python -m benchmarks.gym22_targets --model runs/gym22 --data $DATA22 \\
        --videos ../shared/data/clips22 /tmp/v22 --out results/gym22

writes `OUT/targets.json` and `OUT/targets.md`, and each evaluation's JSON beside them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gym_gesture.training.evaluate import evaluate
from gym_gesture.training.video_eval import evaluate_videos

PENN_CLASSES = ("bench press", "pull up", "push up", "squat")


def _only(data: list[str], name: str) -> list[str]:
    return [path for path in data if Path(path).name.startswith(name)]


def measure(model: str, data: list[str], videos: list[str], out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    runs = {
        "test": evaluate(model, data, split="test", json_path=out / "test.json"),
        "validation": evaluate(model, data, split="validation", json_path=out / "validation.json"),
        "gym5": evaluate(model, _only(data, "gym5"), split="test", ignore_unknown=True, json_path=out / "test_gym5.json"),
        "penn": evaluate(model, _only(data, "penn_action"), split="test", ignore_unknown=True,
                         json_path=out / "test_penn_action.json"),
        "videos": evaluate_videos(model, videos, split="test"),
    }
    (out / "videos_test.json").write_text(json.dumps(runs["videos"], indent=1) + "\n")
    penn = runs["penn"]["per_class"]
    penn_clips = sum(penn[name]["clip_support"] for name in PENN_CLASSES if name in penn)
    penn_right = sum(penn[name]["clip_recall"] * penn[name]["clip_support"] for name in PENN_CLASSES if name in penn)
    test, videos = runs["test"], runs["videos"]
    rows = [
        ("all sources: window / clip accuracy", f"{test['window_accuracy']:.3f} / {test['clip_accuracy']:.3f} "
         f"({test['num_windows']} windows, {test['num_clips']} clips)", ""),
        ("all sources: clip macro F1", f"{test['clip_macro_f1']:.3f} ({len(test['labels'])} classes with test clips)", ""),
        ("validation: window / clip accuracy", f"{runs['validation']['window_accuracy']:.3f} / "
         f"{runs['validation']['clip_accuracy']:.3f} ({runs['validation']['num_clips']} clips)", ""),
        ("gym5 archive: clip / window accuracy", f"{runs['gym5']['clip_accuracy']:.3f} / {runs['gym5']['window_accuracy']:.3f} "
         f"({runs['gym5']['num_clips']} clips)", ">= 0.97 / 0.98"),
        ("Penn Action, " + ", ".join(PENN_CLASSES) + ": clip accuracy", f"{penn_right / penn_clips:.3f} ({penn_clips} clips)",
         ">= 0.95"),
        ("real videos through `Recognizer.predict`: top-1", f"{videos['accuracy']:.3f} ({videos['correct']} of "
         f"{videos['clips']})", ">= 0.90"),
        ("clips of exercises outside the 22 abstained", f"{test['unknown_abstain_rate']:.3f} ({test['unknown_clips']} clips)",
         ">= 0.80"),
        ("clips of known classes abstained", f"{test['known_abstain_rate']:.3f}", "<= 0.05"),
    ]
    table = "\n".join(["| figure (held-out test sources unless said) | measured | target |", "|---|---:|---:|",
                       *(f"| {name} | {value} | {target} |" for name, value, target in rows)])
    result = {"model": model, "data": data, "videos": [str(path) for path in videos],
              "figures": {name: value for name, value, _ in rows}, "unknown_clips_note": test["unknown_clips_note"]}
    (out / "targets.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "targets.md").write_text(table + "\n")
    return {"table": table, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--videos", nargs="+", required=True, metavar="VIDEO_DIR_OR_MANIFEST")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(measure(args.model, args.data, args.videos, args.out)["table"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
