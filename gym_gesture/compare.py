"""The paper's comparison of fusion modules: every fusion trained and evaluated on one split with one budget."""

from __future__ import annotations

import json
import platform
from dataclasses import replace
from pathlib import Path

from .configuration_gym_gesture import FUSIONS
from .data import load_pose_datasets
from .errors import InputError
from .evaluate import evaluate
from .recipe import TrainingOptions
from .train import split_datasets, train

COLUMNS = (
    ("fusion", "Fusion", "{}"),
    ("window_macro_recall", "Recall", "{:.4f}"),
    ("window_macro_precision", "Precision", "{:.4f}"),
    ("window_macro_f1", "F1", "{:.4f}"),
    ("window_accuracy", "Accuracy", "{:.4f}"),
    ("clip_macro_f1", "Clip F1", "{:.4f}"),
    ("clip_accuracy", "Clip accuracy", "{:.4f}"),
    ("parameters", "Parameters", "{:,}"),
    ("training_seconds", "Training time (s)", "{:.0f}"),
    ("epochs_run", "Epochs", "{:.0f}"),
)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "|".join("---" if key == "fusion" else "---:" for key, _, _ in COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def compare(data, output_dir: str | Path, results: str | Path, options: TrainingOptions | None = None,
            fusions: list[str] | None = None) -> str:
    """Train and evaluate each fusion; writes `<results>.md` and `<results>.json`, returns the markdown."""
    options = options or TrainingOptions()
    fusions = fusions or list(FUSIONS)
    unknown = sorted(set(fusions) - set(FUSIONS))
    if unknown:
        raise InputError(f"unknown fusion(s) {', '.join(unknown)}; choose from {', '.join(FUSIONS)}")
    output_dir, results = Path(output_dir), Path(results)
    # Loaded and windowed once: the fusions differ in the model only, never in its windows.
    datasets = load_pose_datasets(data)
    window_cache = {}
    split = split_datasets(datasets, options)
    rows = []
    for fusion in fusions:
        model_dir = output_dir / fusion
        summary = train(datasets, model_dir, replace(options, fusion=fusion, resume=False, push_to_hub=None),
                        split=split, window_cache=window_cache)
        metrics = evaluate(str(model_dir), datasets, split="test", json_path=model_dir / "test.json")
        rows.append({"fusion": fusion, **{key: summary[key] for key in ("parameters", "training_seconds",
                                                                        "training_cpu_seconds", "epochs_run")},
                     **{key: value for key, value in metrics.items() if key.startswith(("window_", "clip_"))
                        and not key.endswith("confusion_matrix")},
                     "num_windows": metrics["num_windows"], "num_clips": metrics["num_clips"],
                     "best_validation_macro_f1": summary["validation"]["macro_f1"]})
    import torch

    table = markdown_table(rows)
    settings = {key: value for key, value in vars(options).items() if key not in ("fusion", "resume", "push_to_hub",
                                                                                 "init_from")}
    note = (f"Held-out test split by source video: {rows[0]['num_windows']} windows of {rows[0]['num_clips']} clips "
            f"from {len(split['test'])} sources; recall / precision / F1 are window-level macro averages. "
            f"Same split, settings and early stopping for every fusion: `{json.dumps(settings)}`. "
            f"Training time: wall clock on {platform.machine()} CPU with {torch.get_num_threads()} torch thread(s), "
            f"including the evaluation and checkpoint of every epoch.")
    results.parent.mkdir(parents=True, exist_ok=True)
    results.with_suffix(".md").write_text(f"# Fusion modules compared\n\nData: {', '.join(map(str, data))}\n\n"
                                          f"{table}\n\n{note}\n")
    results.with_suffix(".json").write_text(json.dumps({"data": [str(path) for path in data], "settings": settings,
                                                        "split": split, "rows": rows}, indent=1) + "\n")
    return table
