"""Leave-one-clip-out figures for the classes with a handful of clips (issue #12).

A class with at most `--max-clips` clips in the data (the clips22-only exercises: 1 to 4 clips each) gets
no held-out clip from a split by source, or one. Fold k trains the recipe again with the k-th clip of
every such class held out (the class's other clips train; every other class keeps the reference model's
split) and evaluates the held-out clips through `gym-gesture evaluate --split test`, the same path as the
other figures. Each fold is a folder of its own under `--work`: an interrupted run resumes at the first
fold without an evaluation.

    python -m benchmarks.leave_one_clip_out --reference runs/gym22 --recipe gym_gesture/recipes/gym22-transformer.json \\
        --data $DATA22 --work runs/loco --out results/loco_gym22
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from gym_gesture.cli import main as cli
from gym_gesture.data.windows import load_pose_datasets
from gym_gesture.data.labels import CLASS_NAMES
from gym_gesture.training.train import SPLIT_FILE


def small_class_clips(datasets, max_clips: int) -> dict[str, list[str]]:
    """The source ids of each class of the 22 with at most `max_clips` clips, sorted."""
    sources = defaultdict(set)
    for dataset in datasets:
        for label, source in zip(dataset["label"], dataset["source_id"]):
            if label in CLASS_NAMES:
                sources[label].add(source)
    return {label: sorted(found) for label, found in sorted(sources.items()) if len(found) <= max_clips}


def fold_split(reference: dict[str, list[str]], small: dict[str, list[str]], fold: int) -> dict[str, list[str]]:
    """The reference split with the fold's clip of each small class as the only test clip of its class."""
    small_sources = {source for sources in small.values() for source in sources}
    held_out = {sources[fold] for sources in small.values() if fold < len(sources)}
    split = {part: [source for source in sources if source not in small_sources]
             for part, sources in reference.items()}
    split["train"] += sorted(small_sources - held_out)
    split["test"] += sorted(held_out)
    return split


def run(reference_dir: Path, recipe: str, data: list[str], work: Path, out: Path, max_clips: int) -> dict:
    reference = json.loads((reference_dir / SPLIT_FILE).read_text())
    small = small_class_clips(load_pose_datasets(data), max_clips)
    folds = max(map(len, small.values()))
    named = defaultdict(int)
    for fold in range(folds):
        fold_dir = work / f"fold-{fold}"
        evaluation = fold_dir / "test.json"
        if not evaluation.is_file():
            fold_dir.mkdir(parents=True, exist_ok=True)
            (fold_dir / SPLIT_FILE).write_text(json.dumps(fold_split(reference, small, fold), indent=1))
            assert cli(["train", "--data", *data, "--output-dir", str(fold_dir / "model"), "--recipe", recipe,
                        "--split-from", str(fold_dir)]) == 0
            assert cli(["evaluate", "--model", str(fold_dir / "model"), "--data", *data, "--split", "test",
                        "--json", str(evaluation)]) == 0
        result = json.loads(evaluation.read_text())
        for label, sources in small.items():
            if fold < len(sources):
                row = result["per_class"].get(label, {})
                named[label] += round(row.get("clip_recall", 0.0) * row.get("clip_support", 0))
    table = {label: {"clips": len(sources), "named_right": named[label]} for label, sources in small.items()}
    summary = {"reference": str(reference_dir), "recipe": recipe, "data": data, "folds": folds,
               "max_clips": max_clips, "per_class": table}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = ["| class | clips | named right, leave-one-clip-out |", "|---|---:|---:|"]
    lines += [f"| {label} | {row['clips']} | {row['named_right']} of {row['clips']} |" for label, row in table.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="the model whose split the folds keep")
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--work", type=Path, required=True, help="folder of the folds (resumable)")
    parser.add_argument("--out", type=Path, required=True, help="results path without suffix (.json and .md)")
    parser.add_argument("--max-clips", type=int, default=4)
    args = parser.parse_args(argv)
    run(args.reference, args.recipe, args.data, args.work, args.out, args.max_clips)


if __name__ == "__main__":
    main()
