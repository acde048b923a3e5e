"""Evaluation of a trained classifier on pose data: window- and clip-level metrics (sklearn), a per-class
table and confusion matrices, and how often it abstains.

Every clip goes through `Recognizer.recognize_sequence`, the path of `gym-gesture predict`: the same
windows, the clip's prediction is the mean of its windows' class probabilities, and the clip's abstain
decision is predict's (with the thresholds of the model folder's calibration.json). Clips of classes
the model does not know are negatives: the model should abstain on them. No part of a model's split
holds them (no model trained on them), so they are all evaluated, whatever `split`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from ..data.windows import data_names, held_out_part_of_unseen_source, is_window_split, load_pose_datasets
from ..core.errors import InputError
from .train import SPLIT_FILE

logger = logging.getLogger(__name__)
UNKNOWN_CLIPS_NOTE = ("clips of classes the model does not know: on a split, those of its sources in that part "
                      "(classes trained on as outliers are split by source like the others) and half of the "
                      "sources in no part (a stable hash of the source id puts each in validation or test), so "
                      "that calibration (validation) and the test figures never share a clip")


def load_split(source: str) -> dict[str, list[str]]:
    """The split (source ids per split) saved beside a model (a folder or a Hub id) by `gym-gesture train`."""
    from ..inference.recognizer import resolve_model_dir

    path = resolve_model_dir(source) / SPLIT_FILE
    if not path.exists():
        raise InputError(f"{source}: no {SPLIT_FILE} beside the model, so no held-out split to evaluate on")
    return json.loads(path.read_text())


def split_pose_datasets(model_source: str, data, split: str | None = None, known_labels=None) -> list:
    """The pose datasets `data` (see `data.load_pose_datasets`), all of them or only the clips of the
    sources in one part of the split saved with the model (e.g. "test": the held-out sources). Given the
    model's `known_labels`, the clips of other classes whose source is in no part of the split are kept
    in the held-out part `data.held_out_part_of_unseen_source` gives them."""
    datasets = load_pose_datasets(data)
    if split is None:
        return datasets
    saved = load_split(model_source)
    if is_window_split(saved):
        raise InputError(f"{model_source}: trained on a split by window, whose parts are windows, not clips: "
                         "`gym-gesture compare --split-by window` evaluates it")
    sources = saved.get(split)
    if sources is None:
        raise InputError(f"{model_source}: the saved split has no {split!r} part")
    sources = set(sources)
    in_split = set().union(*map(set, saved.values()))

    def kept(label, source):
        if source in sources:
            return True
        unseen_negative = known_labels is not None and label not in known_labels and source not in in_split
        return unseen_negative and held_out_part_of_unseen_source(source) == split

    datasets = [dataset.filter(kept, input_columns=["label", "source_id"]) for dataset in datasets]
    if not sum(len(dataset) for dataset in datasets):
        raise InputError(f"none of the {split} sources of {model_source} is in the data")
    return datasets


def recognize_clips(recognizer, datasets, description: str = "clips"):
    """Each clip of the pose datasets through `recognizer.recognize_sequence` (the path of predict): yields
    the clip's row (label, clip_id, source_id, fps, width, height, layout, keypoints, detected) and its
    `SequenceResult`."""
    from tqdm.auto import tqdm

    from ..data.windows import row_frame_size

    for dataset in datasets:
        rows = dataset.select_columns(["label", "clip_id", "source_id", "fps", "width", "height", "layout",
                                       "keypoints", "detected"])
        for row in tqdm(rows.with_format("numpy"), total=len(rows), desc=description):
            yield row, recognizer.recognize_sequence(row["keypoints"], str(row["layout"]), float(row["fps"]),
                                                     row["detected"], frame_size=row_frame_size(row))


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
    """Metrics of the model on the data (all of it, or the sources of one saved split): accuracies of the
    clips of classes it knows and abstain rates (`known_abstain_rate`, and `unknown_abstain_rate` on the
    clips of other classes, unless `ignore_unknown` leaves those out)."""
    from sklearn.metrics import confusion_matrix

    from ..inference.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained(model_source, backend=None)
    config = recognizer.config
    known = set(config.label2id)
    datasets = split_pose_datasets(model_source, data, split, known_labels=known)
    if ignore_unknown:
        datasets = [dataset.filter(lambda label: label in known, input_columns="label") for dataset in datasets]
    window_true, window_probabilities, clip_true, clip_probabilities, known_abstained = [], [], [], [], []
    known_without_window = 0
    unknown = []  # (label, predicted, abstain reason) of each clip of a class the model does not know
    for row, result in recognize_clips(recognizer, datasets):
        label = str(row["label"])
        if label not in known:
            unknown.append((label, recognizer.labels[int(result.clip_scores.argmax())], result.abstain))
        elif len(result.windows):  # a known clip that gives no window is left out, as in training
            window_true.append(np.full(len(result.windows), config.label2id[label]))
            window_probabilities.append(result.probabilities)
            clip_true.append(config.label2id[label])
            clip_probabilities.append(result.clip_scores)
            known_abstained.append(result.abstain is not None)
        else:
            known_without_window += 1
    if not clip_true:
        raise InputError("no clip of a class the model knows (and long enough for one window) in the data")
    if unknown:
        logger.warning("%d clips of classes the model does not know (%s): evaluated as negatives, %s",
                       len(unknown), ", ".join(sorted({label for label, _, _ in unknown})), UNKNOWN_CLIPS_NOTE)
    window_true, window_probabilities = np.concatenate(window_true), np.concatenate(window_probabilities)
    clip_true, clip_probabilities = np.asarray(clip_true), np.asarray(clip_probabilities)

    present = sorted(set(window_true.tolist()))
    names = [config.id2label[i] for i in present]
    levels = {"window": (window_true, window_probabilities.argmax(axis=1)),
              "clip": (clip_true, clip_probabilities.argmax(axis=1))}
    results: dict = {"model": str(model_source), "data": data_names(data), "split": split, "labels": names,
                     "num_windows": len(window_true), "num_clips": len(clip_true)}
    per_level = {}
    for level, (true, predicted) in levels.items():
        results.update({f"{level}_{key}": value for key, value in _scores(true, predicted, present).items()})
        per_level[level] = _per_class(true, predicted, present)
        results[f"{level}_confusion_matrix"] = confusion_matrix(true, predicted, labels=present).tolist()
    results["per_class"] = {
        name: {f"{level}_{key}": value for level in levels for key, value in per_level[level][i].items()}
        for i, name in enumerate(names)
    }
    results.update(_abstain_rates(known_abstained, unknown))
    results["known_clips_without_window"] = known_without_window
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(results, indent=1) + "\n")
        plot_path = plot_path or Path(json_path).with_suffix(".png")
    if plot_path is not None:
        plot_confusion_matrices(plot_path, results)
        results["confusion_matrix_png"] = str(plot_path)
    return results


def _abstain_rates(known_abstained: list[bool], unknown: list[tuple[str, str, str | None]]) -> dict:
    """Shares of clips abstained on, and per unknown class how often it was abstained on or named what."""
    per_class = {}
    for label in sorted({label for label, _, _ in unknown}):
        outcomes = [(predicted, reason) for name, predicted, reason in unknown if name == label]
        per_class[label] = {"clips": len(outcomes),
                            "abstain_rate": float(np.mean([reason is not None for _, reason in outcomes])),
                            "named": dict(Counter(predicted for predicted, reason in outcomes if reason is None))}
    return {"known_abstain_rate": float(np.mean(known_abstained)),
            "unknown_clips": len(unknown),
            "unknown_abstain_rate": float(np.mean([reason is not None for _, _, reason in unknown])) if unknown else None,
            "unknown_per_class": per_class,
            "unknown_clips_note": UNKNOWN_CLIPS_NOTE}


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
    lines.append(f"abstained on {results['known_abstain_rate']:.1%} of the clips of classes the model knows")
    if results["unknown_clips"]:
        lines.append(f"abstained on {results['unknown_abstain_rate']:.1%} of {results['unknown_clips']} clips of "
                     f"classes it does not know ({', '.join(results['unknown_per_class'])}; {results['unknown_clips_note']})")
    return "\n".join(lines)
