"""Evaluation of a trained classifier on pose data: window- and clip-level metrics (sklearn), a per-class
table and confusion matrices. A clip's prediction is the mean of its windows' class probabilities."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .errors import InputError
from .inference import load_model, window_probabilities
from .train import SPLIT_FILE, load_pose_datasets, windows_from_datasets

logger = logging.getLogger(__name__)


def load_split(source: str) -> dict[str, list[str]]:
    """The split (source ids per split) saved beside a model by `gym-gesture train`."""
    path = Path(source) / SPLIT_FILE
    if not path.exists() and not Path(source).exists():
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source, SPLIT_FILE))
    if not path.exists():
        raise InputError(f"{source}: no {SPLIT_FILE} beside the model, so no held-out split to evaluate on")
    return json.loads(path.read_text())


def split_pose_datasets(model_source: str, data, split: str | None = None) -> list:
    """The pose datasets `data` (see `train.load_pose_datasets`), all of them or only the clips of the
    sources in one part of the split saved with the model (e.g. "test": the held-out sources)."""
    datasets = load_pose_datasets(data)
    if split is None:
        return datasets
    sources = load_split(model_source).get(split)
    if sources is None:
        raise InputError(f"{model_source}: the saved split has no {split!r} part")
    sources = set(sources)
    datasets = [dataset.filter(lambda source: source in sources, input_columns="source_id") for dataset in datasets]
    if not sum(len(dataset) for dataset in datasets):
        raise InputError(f"none of the {split} sources of {model_source} is in the data")
    return datasets


def _scores(true: np.ndarray, predicted: np.ndarray, label_ids: list[int]) -> dict:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(true, predicted, labels=label_ids, average="macro",
                                                               zero_division=0)
    return {"accuracy": float(accuracy_score(true, predicted)), "macro_precision": float(precision),
            "macro_recall": float(recall), "macro_f1": float(f1)}


def _per_class(true: np.ndarray, predicted: np.ndarray, label_ids: list[int]) -> list[dict]:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(true, predicted, labels=label_ids,
                                                                     zero_division=0)
    return [{"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for p, r, f, s in zip(precision, recall, f1, support)]


def plot_confusion_matrices(path: str | Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    names = results["labels"]
    figure, axes = plt.subplots(1, 2, figsize=(6 + 1.6 * len(names), 3 + 0.8 * len(names)))
    for axis, level in zip(axes, ("window", "clip")):
        matrix = np.asarray(results[f"{level}_confusion_matrix"])
        ConfusionMatrixDisplay(matrix, display_labels=names).plot(ax=axis, colorbar=False,
                                                                  xticks_rotation=45, cmap="Blues")
        axis.set_title(f"{level}s: accuracy {results[f'{level}_accuracy']:.3f}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def evaluate(model_source: str, data, split: str | None = None, ignore_unknown: bool = False,
             json_path: str | Path | None = None, plot_path: str | Path | None = None) -> dict:
    """Metrics of the model on the data (all of it, or the sources of one saved split)."""
    from sklearn.metrics import confusion_matrix

    model = load_model(model_source)
    config = model.config
    datasets = split_pose_datasets(model_source, data, split)
    windows, clips = windows_from_datasets(datasets, config, ignore_unknown=ignore_unknown)

    probabilities = window_probabilities(model, windows.keypoints, windows.attention_mask)
    num_clips = len(clips.clip_ids)
    clip_probabilities = np.zeros((num_clips, config.num_labels))
    np.add.at(clip_probabilities, windows.clip_index, probabilities)
    clip_probabilities /= np.bincount(windows.clip_index, minlength=num_clips)[:, None]
    clip_true = np.array([config.label2id[label] for label in clips.labels])

    present = sorted(set(windows.labels.tolist()))
    names = [config.id2label[i] for i in present]
    levels = {"window": (windows.labels, probabilities.argmax(axis=1)),
              "clip": (clip_true, clip_probabilities.argmax(axis=1))}
    results: dict = {"model": str(model_source), "data": [str(path) for path in np.atleast_1d(data)],
                     "split": split, "labels": names, "num_windows": len(windows), "num_clips": num_clips}
    per_level = {}
    for level, (true, predicted) in levels.items():
        results.update({f"{level}_{key}": value for key, value in _scores(true, predicted, present).items()})
        per_level[level] = _per_class(true, predicted, present)
        results[f"{level}_confusion_matrix"] = confusion_matrix(true, predicted, labels=present).tolist()
    results["per_class"] = {
        name: {f"{level}_{key}": value for level in levels for key, value in per_level[level][i].items()}
        for i, name in enumerate(names)
    }
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(results, indent=1) + "\n")
        plot_path = plot_path or Path(json_path).with_suffix(".png")
    if plot_path is not None:
        plot_confusion_matrices(plot_path, results)
        results["confusion_matrix_png"] = str(plot_path)
    return results


def format_report(results: dict) -> str:
    """The per-class table and the summary lines, as printed by `gym-gesture evaluate`."""
    header = f"{'class':<22} {'win P':>6} {'win R':>6} {'win F1':>6} {'windows':>7}  {'clip P':>6} {'clip R':>6} " \
             f"{'clip F1':>7} {'clips':>5}"
    lines = [header, "-" * len(header)]
    for name, row in results["per_class"].items():
        lines.append(f"{name:<22} {row['window_precision']:6.3f} {row['window_recall']:6.3f} {row['window_f1']:6.3f} "
                     f"{row['window_support']:7d}  {row['clip_precision']:6.3f} {row['clip_recall']:6.3f} "
                     f"{row['clip_f1']:7.3f} {row['clip_support']:5d}")
    lines.append("")
    for level in ("window", "clip"):
        lines.append(f"{level}s: {results[f'num_{level}s']}, accuracy {results[f'{level}_accuracy']:.4f}, macro "
                     f"precision {results[f'{level}_macro_precision']:.4f}, recall {results[f'{level}_macro_recall']:.4f}, "
                     f"F1 {results[f'{level}_macro_f1']:.4f}")
    return "\n".join(lines)
