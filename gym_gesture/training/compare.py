"""The comparison of fusion modules: every fusion trained on one split with one budget, over seeds, and
measured alike (validation and test accuracies, parameters, CPU throughput, training time).

Each (fusion, seed) run lives in `<output_dir>/by-<split>/<fusion>/seed<seed>/`; its figures are written to
`comparison.json` there once it is measured, and a rerun of the same command skips every run that has
one (a run interrupted in training continues from its last checkpoint). The results file holds one section
per kind of split (by source, by window); each run is merged into it, so commands for other fusions, seeds
or the other split (side by side, or one after the other) add up in one report.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..model.configuration_gym_gesture import FUSIONS
from ..data.windows import (data_names, is_window_split, load_pose_datasets, split_indices, window_split,
                   windows_from_datasets)
from ..core.errors import InputError
from .recipe import TrainingOptions
from .train import TRAINING_FILE, known_class_datasets, split_datasets, train

SPLITS_BY = ("source", "window")
# The paper's split by window: 7:3; the validation windows that early stopping needs come out of the 7.
WINDOW_TEST_FRACTION = 0.3
RUN_FILE = "comparison.json"
THROUGHPUT_BATCH_SIZES = (1, 256)
METRICS = ("window_accuracy", "window_macro_f1", "clip_accuracy", "clip_macro_f1")
# (key, title, format) of the summary table; a metric is "<part>_<metric>".
COLUMNS = (
    *((f"validation_{metric}", f"Validation {metric.replace('_', ' ')}", "{:.3f}") for metric in METRICS),
    *((f"test_{metric}", f"Test {metric.replace('_', ' ')}", "{:.3f}") for metric in METRICS),
    ("parameters", "Parameters", "{:,.0f}"),
    ("batch_1_windows_per_s", "Windows/CPU s, batch 1", "{:,.0f}"),
    ("batch_256_windows_per_s", "Windows/CPU s, batch 256", "{:,.0f}"),
    ("training_seconds", "Training (s)", "{:,.0f}"),
    ("training_cpu_seconds", "Training CPU (s)", "{:,.0f}"),
    ("epochs_run", "Epochs", "{:.0f}"),
)


def parse_fusion_seeds(specs: list[str] | None, seeds: list[int]) -> dict[str, list[int]]:
    """`FUSION` or `FUSION:SEED,SEED,...` per entry (default: every fusion) -> the seeds of each fusion
    (its own, else `seeds`)."""
    fusion_seeds = {}
    for spec in specs or FUSIONS:
        fusion, _, own = spec.partition(":")
        if fusion not in FUSIONS:
            raise InputError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
        try:
            fusion_seeds[fusion] = [int(seed) for seed in own.split(",")] if own else list(seeds)
        except ValueError as error:
            raise InputError(f"{spec!r}: seeds are integers, as in transformer:0,1,2") from error
    return fusion_seeds


def run_order(fusion_seeds: dict[str, list[int]]) -> list[tuple[str, int]]:
    """Every fusion's first seed, then every fusion's second, ...: whatever is finished when a long
    comparison stops is spread over the fusions."""
    rounds = max(len(seeds) for seeds in fusion_seeds.values())
    return [(fusion, seeds[k]) for k in range(rounds) for fusion, seeds in fusion_seeds.items() if k < len(seeds)]


def throughput(model, keypoints: np.ndarray, attention_mask: np.ndarray, batch_size: int,
               min_seconds: float = 2.0, clock=time.process_time) -> float:
    """Windows per second of `clock` through `inference.window_probabilities` (the path of predict) at
    `batch_size`, on real windows (repeated to fill a batch). By default this process's CPU time, not wall
    time: on a machine shared with other work it is what an idle core would do (with one torch thread); a
    model on a GPU is timed by the wall clock (`time.perf_counter`), as the CPU waits for it."""
    from ..inference.recognizer import window_probabilities

    take = np.arange(max(batch_size, 256)) % len(keypoints)
    keypoints, attention_mask = keypoints[take], attention_mask[take]
    window_probabilities(model, keypoints[:batch_size], attention_mask[:batch_size], batch_size)  # warm-up
    calls, started = 0, clock()
    while calls == 0 or clock() - started < min_seconds:
        window_probabilities(model, keypoints, attention_mask, batch_size)
        calls += 1
    return len(keypoints) * calls / (clock() - started)


def window_scores(model, windows, indices: np.ndarray) -> dict[str, float]:
    """Accuracy and macro F1 of the windows `indices` (the measure of a split by window, whose parts are
    windows, not clips)."""
    from sklearn.metrics import accuracy_score, f1_score

    from ..inference.recognizer import window_probabilities

    predicted = window_probabilities(model, windows.keypoints[indices], windows.attention_mask[indices]).argmax(1)
    true = windows.labels[indices]
    return {"window_accuracy": float(accuracy_score(true, predicted)),
            "window_macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0))}


def measure_run(run_dir: Path, datasets, split: dict, window_cache: dict) -> dict:
    """The figures of one trained run: validation and test accuracies (by source through `evaluate`, the
    path of predict, clip by clip; by window on the windows of each part) and CPU throughput."""
    from .evaluate import evaluate
    from ..inference.recognizer import load_model

    model = load_model(str(run_dir))
    windows, clips = windows_from_datasets(datasets, model.config, cache=window_cache)
    indices = split_indices(windows, clips, split)
    figures = {}
    for part in ("validation", "test"):
        if is_window_split(split):
            scores = window_scores(model, windows, indices[part])
        else:
            scores = evaluate(str(run_dir), datasets, split=part, json_path=run_dir / f"{part}.json")
        figures.update({f"{part}_{key}": scores[key] for key in METRICS if key in scores})
        figures[f"{part}_windows"] = len(indices[part])
    test = indices["test"]
    for batch_size in THROUGHPUT_BATCH_SIZES:
        figures[f"batch_{batch_size}_windows_per_s"] = round(throughput(
            model, windows.keypoints[test], windows.attention_mask[test], batch_size), 1)
    return figures


def _train_or_resume(datasets, run_dir: Path, options: TrainingOptions, split: dict, window_cache: dict) -> dict:
    from transformers.trainer_utils import get_last_checkpoint

    if (run_dir / TRAINING_FILE).is_file():  # trained, not yet measured
        return json.loads((run_dir / TRAINING_FILE).read_text())
    interrupted = run_dir.is_dir() and get_last_checkpoint(str(run_dir)) is not None
    return train(datasets, run_dir, replace(options, resume=interrupted, push_to_hub=None, init_from=None),
                 split=split, window_cache=window_cache)


def _spread(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, "seeds": len(values)}


def summarize(runs: list[dict]) -> list[dict]:
    """Per fusion (in the order of `runs`), the mean, min, max and std over its seeds of every figure."""
    summary = []
    for fusion in dict.fromkeys(run["fusion"] for run in runs):
        own = [run for run in runs if run["fusion"] == fusion]
        keys = [key for key, _, _ in COLUMNS if all(key in run for run in own)]
        summary.append({"fusion": fusion, "seeds": [run["seed"] for run in own],
                        **{key: _spread([run[key] for run in own]) for key in keys}})
    return summary


def _cell(figure: dict | None, fmt: str) -> str:
    if figure is None:
        return "-"
    if figure["seeds"] == 1 or figure["min"] == figure["max"]:
        return fmt.format(figure["mean"])
    return f"{fmt.format(figure['mean'])} ({fmt.format(figure['min'])}-{fmt.format(figure['max'])})"


def markdown_table(summary: list[dict]) -> str:
    lines = ["| Fusion | Seeds | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|---|---|" + "---:|" * len(COLUMNS)]
    for row in summary:
        lines.append(f"| {row['fusion']} | {','.join(map(str, row['seeds']))} | "
                     + " | ".join(_cell(row.get(key), fmt) for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def verdict(summary: list[dict], key: str = "validation_clip_macro_f1") -> str:
    """Which fusion leads on `key` (mean over seeds), and whether by more than the seed spread: its worst
    seed above every other fusion's best."""
    ranked = sorted((row for row in summary if key in row), key=lambda row: -row[key]["mean"])
    if len(ranked) < 2:
        return ""
    best, others = ranked[0], ranked[1:]
    runner_up = others[0]
    single = [row["fusion"] for row in ranked if row[key]["seeds"] == 1]
    if single:
        lead = f"no seed spread to weigh the lead against yet (one seed: {', '.join(single)})"
    elif all(best[key]["min"] > other[key]["max"] for other in others):
        lead = "ahead of every other fusion by more than the seed spread (its worst seed above their best)"
    else:
        lead = "not ahead of every other fusion by more than the seed spread (the ranges overlap)"
    return (f"Best on {key.replace('_', ' ')} (mean over seeds): **{best['fusion']}** "
            f"({best[key]['mean']:.3f}, seeds {best[key]['min']:.3f}-{best[key]['max']:.3f}), then "
            f"{runner_up['fusion']} ({runner_up[key]['mean']:.3f}, {runner_up[key]['min']:.3f}-"
            f"{runner_up[key]['max']:.3f}): {lead}.")


def _section_markdown(by: str, section: dict) -> str:
    title = {"source": "Split by source video", "window": "Split by window (the paper's)"}[by]
    runs = section["runs"]
    sizes = f"{runs[0]['validation_windows']} validation and {runs[0]['test_windows']} test windows" if runs else ""
    if by == "source":
        about = (f"Held-out sources: {len(section['split']['validation'])} validation, "
                 f"{len(section['split']['test'])} test ({sizes}); clip figures through the path of `predict` (a "
                 "clip's windows' mean probabilities). Macro F1 over the classes present.")
    else:
        about = (f"Every class's windows shuffled and dealt out {1 - WINDOW_TEST_FRACTION:.0%} : "
                 f"{WINDOW_TEST_FRACTION:.0%} (the paper's), the validation windows out of the first part ({sizes}). "
                 "Windows of one clip overlap and land in every part: this measures recognising the videos "
                 "trained on, not new ones; no clip figures (a clip is in every part).")
    lines = [f"## {title}", "", about, "", markdown_table(section["summary"]), ""]
    if by == "source":
        lines += [verdict(section["summary"]), ""]
    lines += ["Per run:", "", "| Fusion | Seed | Val. clip F1 | Test clip F1 | Val. window acc. | Test window acc. | "
              "Training (s) | CPU (s) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        cells = [f"{run[key]:.3f}" if key in run else "-" for key in
                 ("validation_clip_macro_f1", "test_clip_macro_f1", "validation_window_accuracy", "test_window_accuracy")]
        lines.append(f"| {run['fusion']} | {run['seed']} | {' | '.join(cells)} | {run['training_seconds']:.0f} | "
                     f"{run['training_cpu_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def write_results(results: Path, report: dict) -> str:
    """`<results>.json` and `.md` from `report` (its sections by source and by window)."""
    sections = [f"{_section_markdown(by, report['by_' + by])}" for by in SPLITS_BY if f"by_{by}" in report]
    settings = report["settings"]
    models = {run["fusion"]: run["model"] for by in SPLITS_BY for run in report.get(f"by_{by}", {}).get("runs", [])}
    sizes = "; ".join(f"{fusion} d_model {model['d_model']}, {model['num_layers']} layers"
                      for fusion, model in models.items())
    note = (f"Same settings and early stopping for every fusion: `{json.dumps(settings)}`; sizes: {sizes}. "
            "Figures: mean over seeds (min-max). Seeds change "
            "the initialisation, the augmentation and the order of the batches, never the split. "
            f"Throughput: `window_probabilities` (predict's path) on the test windows, windows per second of CPU "
            f"time on {platform.machine()} with {settings['threads'] or 'all'} torch thread(s), the machine shared "
            f"with other work (load average {report['load_average']}); training time: wall clock including each "
            "epoch's evaluation and "
            "checkpoint, and the CPU time of the process (with one thread, what an idle core would take).")
    markdown = (f"# Fusion modules compared\n\nData: {', '.join(report['data'])}\n\n{note}\n\n"
                + "\n".join(sections))
    results.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".md", markdown), (".json", json.dumps(report, indent=1) + "\n")):
        partial = results.with_suffix(f"{suffix}.partial")
        partial.write_text(text)
        partial.replace(results.with_suffix(suffix))  # whole: another compare may read it any moment
    return markdown


def compare(data, output_dir: str | Path, results: str | Path, options: TrainingOptions | None = None,
            fusions: list[str] | None = None, seeds: list[int] | None = None, split_by: str = "source",
            fusion_options: dict[str, TrainingOptions] | None = None) -> str:
    """Train and measure each fusion with each of its seeds (`parse_fusion_seeds`) on one split; writes
    `<results>.md` and `.json` after every run, returns the markdown.

    `options`: the settings of every fusion; `fusion_options`: a fusion's own (its model's size, say).
    The split comes from `options.seed`, whatever the seed of a run; `split_by` "window" deals out windows
    instead of source videos."""
    import torch

    options = options or TrainingOptions()
    fusion_options = fusion_options or {}
    if options.threads:  # training sets it too; a rerun that only measures must measure alike
        torch.set_num_threads(options.threads)
    if split_by not in SPLITS_BY:
        raise InputError(f"--split-by {split_by!r}: choose from {', '.join(SPLITS_BY)}")
    fusion_seeds = parse_fusion_seeds(fusions, seeds if seeds is not None else [options.seed])
    output_dir, results = Path(output_dir) / f"by-{split_by}", Path(results)
    # Loaded, filtered and windowed once: the runs differ in the model only, never in their windows.
    datasets, outliers = known_class_datasets(load_pose_datasets(data))
    window_cache = {}
    # The exercises outside the 22 train as outliers where a recipe asks for it; every run is measured on
    # the known classes' clips.
    split = (split_datasets(datasets, options, outliers if options.outlier_exposure else ()) if split_by == "source" else
             window_split(options.validation_fraction * (1 - WINDOW_TEST_FRACTION), WINDOW_TEST_FRACTION,
                          options.seed))
    settings = {key: value for key, value in vars(options).items()
                if key not in ("fusion", "resume", "push_to_hub", "init_from", "seed")}
    report = {"data": data_names(data), "settings": settings}
    for fusion, seed in run_order(fusion_seeds):
        run_dir = output_dir / fusion / f"seed{seed}"
        if not (run_dir / RUN_FILE).is_file():
            run_options = replace(fusion_options.get(fusion, options), fusion=fusion, seed=seed)
            training_data = datasets + outliers if run_options.outlier_exposure else datasets
            summary = _train_or_resume(training_data, run_dir, run_options, split, window_cache)
            run = {"fusion": fusion, "seed": seed, "model": summary["options"]["model"],
                   **{key: summary[key] for key in ("parameters", "training_seconds", "training_cpu_seconds",
                                                    "epochs_run")},
                   **measure_run(run_dir, datasets, split, window_cache)}
            (run_dir / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
        run = json.loads((run_dir / RUN_FILE).read_text())
        markdown = write_results(results, _merged(results, report, split_by, split, run))
    return markdown


def _merged(results: Path, report: dict, split_by: str, split: dict, run: dict) -> dict:
    """The results file's report with `run` in the section of `split_by`: the runs of other commands (other
    fusions or seeds, the other split; compare commands may run side by side) are kept where they were
    measured on the same data, settings and split."""
    path = results.with_suffix(".json")
    previous = json.loads(path.read_text()) if path.is_file() else {}
    same = all(previous.get(key) == value for key, value in report.items())
    merged = {**report, **{f"by_{by}": previous[f"by_{by}"] for by in SPLITS_BY if same and f"by_{by}" in previous}}
    section = merged.get(f"by_{split_by}")
    runs = {(old["fusion"], old["seed"]): old for old in section["runs"]} if section and section["split"] == split else {}
    runs[run["fusion"], run["seed"]] = run
    ordered = sorted(runs.values(), key=lambda item: (FUSIONS.index(item["fusion"]), item["seed"]))
    merged[f"by_{split_by}"] = {"split": split, "runs": ordered, "summary": summarize(ordered)}
    merged["load_average"] = ", ".join(f"{load:.1f}" for load in os.getloadavg())
    return merged
