"""How a clip's windows become the score it abstains on: compared over many models, each measured on
exercise types that neither it nor its thresholds saw.

Every score is of the class that the clip's mean window probabilities name: the mean of its windows'
probabilities (what `predict` reads), their median, their lower quartile, and the mean with every window
read mirrored too (test-time mirroring: the model's probabilities of the window and of its left/right
mirror, averaged). Known clips: the validation part of each model's split.json in `--data`; unseen clips:
the pose data given with the model. Per model and score: the AUROC between the two, and the share of
unseen clips under the threshold that abstains on `--max-lost` of the known clips. Models come in two
groups: `--decide` (the fold a choice is made on) and `--confirm` (the other fold, where it must hold); each
score is compared with the mean, model by model.

    python -m benchmarks.clip_aggregates --data $DATA --decide runs/fold0=$C/folds/unknown_held_out1 ... \\
        --confirm runs/fold1=$C/folds/unknown_held_out0 ... --out results/gym22-clip-scores
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SCORES = ("mean", "median", "lower_quartile", "mean_mirrored")


def both_ways(model, windows) -> np.ndarray:
    """(2, windows, classes): the model's probabilities of `windows` (`data.Windows`) as they are and mirrored."""
    from gym_gesture.inference.recognizer import window_probabilities
    from gym_gesture.model.skeleton import mirror

    mirrored = mirror(windows.keypoints, model.config.layout)  # padding frames are zeros, and stay so
    return np.stack([window_probabilities(model, keypoints, windows.attention_mask)
                     for keypoints in (windows.keypoints, mirrored)])


def clip_window_probabilities(model_dir: str, data: list[str], unseen: list[str]) -> dict[str, list[np.ndarray]]:
    """`both_ways` of every clip's windows: {"known": [...], "unseen": [...]}."""
    from gym_gesture.data.windows import load_pose_datasets, row_frame_size, windows_from_sequence
    from gym_gesture.inference.recognizer import load_model
    from gym_gesture.training.evaluate import split_pose_datasets

    model = load_model(model_dir)
    config = model.config
    labels = set(config.label2id)
    clips = {"known": [], "unseen": []}
    parts = (("known", split_pose_datasets(model_dir, data, "validation", known_labels=labels)),
             ("unseen", load_pose_datasets(unseen)))
    for part, datasets in parts:
        for dataset in datasets:
            for row in dataset.with_format("numpy"):
                if part == "known" and str(row["label"]) not in labels:
                    continue
                windows = windows_from_sequence(row["keypoints"], str(row["layout"]), float(row["fps"]), config,
                                                frame_size=row_frame_size(row))
                if len(windows):
                    clips[part].append(both_ways(model, windows))
    return clips


def clip_score(probabilities: np.ndarray, score: str) -> float:
    """The clip's score from its windows' probabilities (2, windows, classes): see the module's docstring."""
    windows = probabilities[0]
    named = int(windows.mean(axis=0).argmax())
    if score == "mean":
        return float(windows[:, named].mean())
    if score == "median":
        return float(np.median(windows[:, named]))
    if score == "lower_quartile":
        return float(np.quantile(windows[:, named], 0.25))
    if score == "mean_mirrored":
        return float(probabilities.mean(axis=0).mean(axis=0).max())
    raise ValueError(f"unknown score {score!r}")


def separation(known: np.ndarray, unseen: np.ndarray, max_lost: float) -> dict:
    """How a score separates known clips from unseen ones (higher: known): the AUROC, and the share of the
    unseen clips under the threshold that abstains on `max_lost` of the known ones."""
    from sklearn.metrics import roc_auc_score

    threshold = np.quantile(known, max_lost)
    return {"auroc": round(float(roc_auc_score(np.r_[np.ones(len(known)), np.zeros(len(unseen))],
                                               np.r_[known, unseen])), 4),
            "unseen_abstained": round(float((unseen < threshold).mean()), 4)}


def measure(clips: dict[str, list[np.ndarray]], max_lost: float) -> dict:
    results = {score: separation(np.array([clip_score(clip, score) for clip in clips["known"]]),
                                 np.array([clip_score(clip, score) for clip in clips["unseen"]]), max_lost)
               for score in SCORES}
    return {"known_clips": len(clips["known"]), "unseen_clips": len(clips["unseen"]), "scores": results}


def summary(rows: list[dict]) -> dict:
    """Per score: the mean AUROC and share abstained, and on how many models it beats the mean's AUROC."""
    return {score: {"auroc": round(float(np.mean([row["scores"][score]["auroc"] for row in rows])), 4),
                    "unseen_abstained": round(float(np.mean([row["scores"][score]["unseen_abstained"] for row in rows])), 4),
                    "auroc_above_mean": sum(row["scores"][score]["auroc"] > row["scores"]["mean"]["auroc"] for row in rows)}
            for score in SCORES}


def _model_and_unseen(text: str) -> tuple[str, str]:
    model, separator, unseen = text.partition("=")
    if not separator or not model or not unseen:
        raise argparse.ArgumentTypeError(f"{text!r} is not MODEL=UNSEEN_DATA")
    return model, unseen


def main(argv: list[str] | None = None) -> None:
    from tqdm.auto import tqdm

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="pose data holding the models' validation clips")
    parser.add_argument("--decide", nargs="+", type=_model_and_unseen, required=True, metavar="MODEL=UNSEEN_DATA")
    parser.add_argument("--confirm", nargs="*", type=_model_and_unseen, default=[], metavar="MODEL=UNSEEN_DATA")
    parser.add_argument("--max-lost", type=float, default=0.05, help="share of the known clips the threshold abstains on")
    parser.add_argument("--out", type=Path, required=True, help="results path without suffix (.json and .md)")
    args = parser.parse_args(argv)

    groups = {}
    for group, runs in (("decide", args.decide), ("confirm", args.confirm)):
        rows = []
        for model, unseen in tqdm(runs, desc=group):
            rows.append({"model": model, "unseen": unseen,
                         **measure(clip_window_probabilities(model, args.data, [unseen]), args.max_lost)})
        if rows:
            groups[group] = {"models": rows, "summary": summary(rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"data": args.data, "max_lost": args.max_lost, **groups},
                                                        indent=1) + "\n")
    header = "| model | " + " | ".join(f"{score}: AUROC / abstained" for score in SCORES) + " |"
    lines = [f"AUROC, and the unseen clips abstained on at the threshold that abstains on {args.max_lost} of the "
             "known clips:"]
    for group, result in groups.items():
        lines += ["", f"**{group}**", "", header, "|---|" + "---:|" * len(SCORES)]
        lines += [f"| {row['model']} ({row['known_clips']} known, {row['unseen_clips']} unseen) | " + " | ".join(
            f"{row['scores'][score]['auroc']:.3f} / {row['scores'][score]['unseen_abstained']:.3f}" for score in SCORES)
            + " |" for row in result["models"]]
        total = result["summary"]
        lines.append("| mean over the models | " + " | ".join(
            f"{total[score]['auroc']:.3f} / {total[score]['unseen_abstained']:.3f}" for score in SCORES) + " |")
        lines.append("| AUROC above the mean's, models | " + " | ".join(
            f"{total[score]['auroc_above_mean']} of {len(result['models'])}" for score in SCORES) + " |")
    args.out.with_suffix(".md").write_text(__doc__.split("\n\n")[0] + "\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
