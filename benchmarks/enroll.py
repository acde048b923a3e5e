"""Enrollment, leave class out: teach the shipped model an exercise it never saw from k clips, then count how
often it names that exercise on the class's other clips, and on everyone else's.

Classes: the real exercises outside the 22 in the archives (front raise and shoulder shrug of
posetrainer_openpose18, situp, jumping jacks and clean and jerk of penn_action_13j) and two of the 22 that
the 7-class model does not know (lateral raises and t bar row of fit3d5_mediapipe33, 50 fps). For each
class X and k = 1, 3, 5, `--draws` random draws of k clips of X from distinct sources are enrolled
(`enroll.enroll_clips`, the code of `gym-gesture enroll`); then every other clip of the archives goes
through the recognizer's decision (`inference.name_clip` and the abstain reasons of `timeline`, with the
model's calibration.json): X's clips of the other sources should be named X, no clip of another class
should. Clips that give no window are left out (predict refuses them). Fit3D's sequences include
several cameras of one recording, so its held-out clips of X may share a recording with the enrolled
ones: its figures are in-lab and optimistic. The time to enroll 3 clips is `enroll.enroll` from the model
folder to the saved folder (model loading and saving included; the archive's loading is not).

What any threshold could do: every clip's similarity to X's prototypes (the mean over its windows, what
the abstain decision reads) ranks X's held-out clips against all other clips; the ROC AUC of that ranking,
and the share of X's held-out clips above the similarity that only 5% of the other clips reach (the
recall of the best threshold that keeps other clips named X at the 0.05 target), say how well the
model's embedding separates X at all, whatever the decision rule.

The floor of an enrolled class's threshold (`enroll.MIN_THRESHOLD`) against what clips of different
exercises reach: for each shipped checkpoint and k = 1 to 5, the 95th percentile of the similarity of a
validation clip (its split.json) to k validation clips of a different class and of other sources.

    python -m benchmarks.enroll --out results/enroll
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gym_gesture.data.windows import load_pose_datasets, row_frame_size, windows_from_sequence
from gym_gesture.training.enroll import (MIN_THRESHOLD, EnrollmentClip, clip_similarity, enroll, enroll_clips, window_embeddings,
                                with_motion_floor)
from gym_gesture.inference.recognizer import load_model, name_clip, window_probabilities_and_similarities
from gym_gesture.core.paths import CHECKPOINTS_DIR, DEFAULT_MODEL_DIR
from gym_gesture.analysis.abstain import AbstainSample, AbstainThresholds, span_sample

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYPOINTS = REPO_ROOT.parent / "shared" / "data" / "keypoints"
# Archive -> its frame rate where it records none (Fit3D is 50 fps).
ARCHIVES = {"penn_action_13j.npz": None, "posetrainer_openpose18.npz": None, "fit3d5_mediapipe33.npz": 50.0,
            "gym5_mediapipe33.npz": None}
ENROLLED = ("front raise", "shoulder shrug", "situp", "jumping jacks", "clean and jerk", "lateral raises", "t bar row")
SHOTS = (1, 3, 5)
# The classes that choose the threshold margin (`--margins`): PoseTrainer's and Fit3D's; Penn Action's
# stay a held-out check.
MARGIN_CLASSES = ("front raise", "shoulder shrug", "lateral raises", "t bar row")
# The numbers of clips that `enroll.MIN_THRESHOLD` has a floor for.
FLOOR_SHOTS = (1, 2, 3, 4, 5)
# The issue's target for other classes' clips named as the enrolled one.
OTHERS_NAMED_TARGET = 0.05


@dataclass
class Clip:
    """One clip of the archives, windowed once: what the recognizer's decision reads of it."""

    label: str
    source: str
    enrollment: EnrollmentClip
    windows: object  # data.Windows
    sample: AbstainSample  # its detection rate, motion and walking speed (the prediction filled in later)


def load_clips(model) -> list[Clip]:
    clips = []
    for name, fps in ARCHIVES.items():
        for dataset in load_pose_datasets([KEYPOINTS / name]):
            for row in dataset.with_format("numpy"):
                rate = float(fps or row["fps"])
                enrollment = EnrollmentClip(str(row["clip_id"]), row["keypoints"], str(row["layout"]), rate,
                                            row_frame_size(row))
                windows = windows_from_sequence(enrollment.keypoints, enrollment.layout, rate, model.config,
                                                frame_size=enrollment.frame_size)
                if not len(windows):
                    continue
                sample = span_sample(enrollment.keypoints, enrollment.layout, rate, row["detected"], 0.0,
                                     len(enrollment.keypoints) / rate, "", 0.0, frame_size=enrollment.frame_size)
                clips.append(Clip(str(row["label"]), str(row["source_id"]), enrollment, windows, sample))
    return clips


def named_labels(model, clips: list[Clip],
                 thresholds: AbstainThresholds) -> tuple[list[tuple[str, str | None]], np.ndarray]:
    """The class the recognizer ranks first for each clip, and what it names it (None: it abstains), as
    `Recognizer.recognize_sequence` decides; and each clip's similarity to the last enrolled class (the mean
    over its windows; empty for a model with no enrolled class)."""
    keypoints = np.concatenate([clip.windows.keypoints for clip in clips])
    masks = np.concatenate([clip.windows.attention_mask for clip in clips])
    probabilities, similarities = window_probabilities_and_similarities(model, keypoints, masks)
    ends = np.cumsum([len(clip.windows) for clip in clips])
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    named, last_enrolled = [], []
    for clip, start, end in zip(clips, ends - [len(c.windows) for c in clips], ends):
        scores, best, similarity = name_clip(probabilities[start:end], similarities[start:end], model.config)
        sample = replace(clip.sample, predicted=labels[best], probability=float(scores[best]), similarity=similarity)
        named.append((labels[best], None if sample.reason(thresholds) else labels[best]))
        if similarities.shape[1]:
            last_enrolled.append(float(similarities[start:end, -1].mean()))
    return named, np.asarray(last_enrolled)


def separability(similarity: np.ndarray, held_out: list[int], others: list[int]) -> dict:
    """How well the similarity to X's prototypes ranks X's held-out clips above all other clips: the ROC AUC
    and the share of held-out clips above the 95th percentile of the others (`OTHERS_NAMED_TARGET`)."""
    from sklearn.metrics import roc_auc_score

    truth = np.r_[np.ones(len(held_out)), np.zeros(len(others))]
    cutoff = np.quantile(similarity[others], 1 - OTHERS_NAMED_TARGET)
    return {"similarity_auc": float(roc_auc_score(truth, np.r_[similarity[held_out], similarity[others]])),
            "recall_at_target": float(np.mean(similarity[held_out] > cutoff))}


def different_class_similarity(model_dir: Path, model=None, clips: list[Clip] | None = None, shots: int = 1,
                               seed: int = 0) -> float:
    """The 95th percentile of `enroll.clip_similarity` of a validation clip (the model's split.json) of the
    archives to `shots` validation clips of a different class, from distinct sources other than its own (3
    random draws a clip and class): a similarity that clips of different exercises rarely reach. `model`
    and its `clips` when already loaded from `model_dir`."""
    if model is None:
        model = load_model(model_dir)
        clips = load_clips(model)
    validation = set(json.loads((model_dir / "split.json").read_text())["validation"])
    clips = [clip for clip in clips if clip.source in validation and clip.label in model.config.label2id]
    embedded = [window_embeddings(model, clip.enrollment)[0] for clip in clips]
    rng = np.random.default_rng(seed)
    similarities = []
    for i, clip in enumerate(clips):
        others = [j for j, other in enumerate(clips) if other.source != clip.source]
        other_clips = [clips[j] for j in others]
        for label in model.config.label2id:
            if label == clip.label:
                continue
            for _ in range(3):
                if (chosen := draw(other_clips, label, shots, rng)) is None:
                    break
                prototypes = np.concatenate([embedded[others[j]] for j in chosen])
                similarities.append(clip_similarity(embedded[i], prototypes))
    return float(np.percentile(similarities, 95))


def draw(clips: list[Clip], label: str, shots: int, rng: np.random.Generator) -> list[int] | None:
    """Indices of `shots` clips of `label` from distinct sources, or None when it has too few sources."""
    chosen, sources = [], set()
    for index in rng.permutation([i for i, clip in enumerate(clips) if clip.label == label]):
        if clips[index].source not in sources:
            chosen.append(int(index))
            sources.add(clips[index].source)
        if len(chosen) == shots:
            return chosen
    return None


def enrollment_draws(model, clips: list[Clip], thresholds: AbstainThresholds, draws: int, seed: int,
                    classes=ENROLLED, shots_list=SHOTS, margin: float | None = None) -> tuple[list[dict], list[float]]:
    """Each draw's figures (enrolled `classes` with k in `shots_list`, `margin` in place of the shipped
    threshold margin) and the seconds that enrolling 3 clips took from the folder to the saved folder. The
    draws are those of the whole benchmark whatever the classes and k (one random generator, in order)."""
    trained = set(model.config.label2id)
    known = [i for i, clip in enumerate(clips) if clip.label in trained]
    rng = np.random.default_rng(seed)
    rows, enroll_seconds = [], []
    for label in ENROLLED:
        for shots in SHOTS:
            for _ in range(draws):
                chosen = draw(clips, label, shots, rng)
                if chosen is None or label not in classes or shots not in shots_list:
                    continue
                enrolled, record = enroll_clips(model, label, [clips[i].enrollment for i in chosen], margin)
                if shots == 3 and margin is None:
                    with tempfile.TemporaryDirectory() as folder:
                        started = time.perf_counter()
                        enroll(DEFAULT_MODEL_DIR, label, [clips[i].enrollment for i in chosen], folder)
                        enroll_seconds.append(time.perf_counter() - started)
                decisions, similarity = named_labels(enrolled, clips,
                                                     with_motion_floor(thresholds, label, record["motion_floor"]))
                ranked, named = zip(*decisions)
                sources = {clips[i].source for i in chosen}
                held_out = [i for i, clip in enumerate(clips) if clip.label == label and clip.source not in sources]
                others = [i for i, clip in enumerate(clips) if clip.label != label]
                unknown = [i for i in others if clips[i].label not in trained]
                rows.append({
                    "label": label, "shots": shots, "enrolled": record["clips"], "threshold": record["threshold"],
                    "held_out_clips": len(held_out),
                    "named_right": float(np.mean([named[i] == label for i in held_out])),
                    "ranked_right": float(np.mean([ranked[i] == label for i in held_out])),
                    "others_named_it": float(np.mean([named[i] == label for i in others])),
                    "unknown_named_it": float(np.mean([named[i] == label for i in unknown])),
                    "known_named_it": float(np.mean([named[i] == label for i in known])),
                    "known_named_right": float(np.mean([named[i] == clips[i].label for i in known])),
                    **separability(similarity, held_out, others),
                })
    return rows, enroll_seconds


def load_benchmark() -> tuple[object, AbstainThresholds, list[Clip]]:
    """The shipped model, its abstain thresholds and the archives' clips, on one thread (timings comparable)."""
    import torch

    torch.set_num_threads(1)
    model = load_model(DEFAULT_MODEL_DIR)
    return model, AbstainThresholds.for_model(DEFAULT_MODEL_DIR), load_clips(model)


def run(out: Path, draws: int, seed: int) -> dict:
    model, thresholds, clips = load_benchmark()
    trained = set(model.config.label2id)
    base_named, _ = named_labels(model, clips, thresholds)
    known = [i for i, clip in enumerate(clips) if clip.label in trained]
    base_right = float(np.mean([base_named[i][1] == clips[i].label for i in known]))
    rows, enroll_seconds = enrollment_draws(model, clips, thresholds, draws, seed)
    result = summarize(rows, enroll_seconds, base_right, len(clips), draws, seed)
    # The default model's clips are loaded already; the other checkpoint loads its own.
    loaded = {DEFAULT_MODEL_DIR: (model, clips)}
    for name in ("gym7-transformer", "gym22-transformer"):
        folder = CHECKPOINTS_DIR / name
        if folder not in loaded:
            loaded[folder] = (other := load_model(folder)), load_clips(other)
        result.setdefault("different_class_similarity_p95", {})[name] = [
            round(different_class_similarity(folder, *loaded[folder], shots), 3) for shots in FLOOR_SHOTS]
    write(out, result)
    return result


def summarize(rows: list[dict], enroll_seconds: list[float], base_right: float, num_clips: int, draws: int,
              seed: int) -> dict:
    measures = ("named_right", "ranked_right", "others_named_it", "unknown_named_it", "known_named_it",
                "known_named_right", "similarity_auc", "recall_at_target")

    def mean(selected, key):
        return round(float(np.mean([row[key] for row in selected])), 3)

    by_class = [{"label": label, "shots": shots, "draws": len(selected),
                 "held_out_clips": selected[0]["held_out_clips"],
                 **{key: mean(selected, key) for key in measures}}
                for label in ENROLLED for shots in SHOTS
                if (selected := [row for row in rows if row["label"] == label and row["shots"] == shots])]
    overall = [{"shots": shots, **{key: mean([row for row in by_class if row["shots"] == shots], key)
                                   for key in measures}} for shots in SHOTS]
    return {"clips": num_clips, "draws": draws, "seed": seed, "known_named_right_before": round(base_right, 3),
            "enrol_3_clips_seconds": {"median": round(float(np.median(enroll_seconds)), 3),
                                      "max": round(float(np.max(enroll_seconds)), 3)},
            "overall": overall, "by_class": by_class, "draws_detail": rows}


def margin_sweep(out: Path, margins: list[float], draws: int, seed: int) -> None:
    """The threshold margin's choice (`enroll.THRESHOLD_MARGIN`): k = 3 on the classes that choose it
    (`MARGIN_CLASSES`), the benchmark's draws, for each margin the mean over the classes of their other clips
    named right and of the other classes' clips named as them."""
    model, thresholds, clips = load_benchmark()
    lines = ["| margin | named right | others named it |", "|---:|---:|---:|"]
    sweep = []
    for margin in margins:
        rows = enrollment_draws(model, clips, thresholds, draws, seed, MARGIN_CLASSES, (3,), margin)[0]
        by_class = [[row for row in rows if row["label"] == label] for label in MARGIN_CLASSES]
        sweep.append({key: round(float(np.mean([np.mean([row[key] for row in selected]) for selected in by_class])), 3)
                      for key in ("named_right", "others_named_it")} | {"margin": margin})
        lines.append(f"| {margin} | {sweep[-1]['named_right']:.3f} | {sweep[-1]['others_named_it']:.3f} |")
        print(lines[-1], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"classes": MARGIN_CLASSES, "shots": 3, "draws": draws,
                                                    "seed": seed, "embedding": model.config.prototype_embedding,
                                                    "margins": sweep}, indent=1) + "\n")
    out.with_suffix(".md").write_text(
        f"Threshold margin, k = 3, {draws} draws (seed {seed}), {model.config.prototype_embedding} embedding, means "
        f"over {', '.join(MARGIN_CLASSES)}:\n\n" + "\n".join(lines) + "\n\n    python -m benchmarks.enroll --margins "
        + " ".join(map(str, margins)) + "\n")


def write(out: Path, result: dict) -> None:
    head = ("| k | X's other clips named X | (ranked first, before abstaining) | other clips named X | "
            "unknown-exercise clips named X | trained-class clips named X | trained-class clips named right | "
            "similarity AUC | X's clips named at <= 0.05 others (best threshold) |")
    lines = [head, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['shots']} | {row['named_right']:.3f} | {row['ranked_right']:.3f} | {row['others_named_it']:.3f} | "
              f"{row['unknown_named_it']:.3f} | {row['known_named_it']:.3f} | {row['known_named_right']:.3f} | "
              f"{row['similarity_auc']:.3f} | {row['recall_at_target']:.3f} |" for row in result["overall"]]
    lines += ["", "| class | k | held-out clips | named X | ranked X first | other clips named X | similarity AUC | "
              "named at <= 0.05 others | draws |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['label']} | {row['shots']} | {row['held_out_clips']} | {row['named_right']:.3f} | "
              f"{row['ranked_right']:.3f} | {row['others_named_it']:.3f} | {row['similarity_auc']:.3f} | "
              f"{row['recall_at_target']:.3f} | {row['draws']} |" for row in result["by_class"]]
    timing = result["enrol_3_clips_seconds"]
    lines += ["", f"{result['clips']} clips with a window; {result['draws']} draws a class and k (seed {result['seed']}); "
              f"trained-class clips named right before enrolling: {result['known_named_right_before']:.3f}; "
              f"enrolling 3 clips: median {timing['median']:.2f} s, max {timing['max']:.2f} s.",
              "", f"Threshold floor by number of enrolled clips (`enroll.MIN_THRESHOLD`): {MIN_THRESHOLD}; 95th "
              f"percentile of the similarity of a validation clip to {', '.join(map(str, FLOOR_SHOTS))} validation "
              "clips of a different class: " + "; ".join(
                  f"{name} {', '.join(f'{value:.3f}' for value in values)}"
                  for name, values in result["different_class_similarity_p95"].items()) + "."]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(__doc__.split("\n\n    python")[0] + "\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


def descriptor_statistics(data: list[str], model_dir: Path = DEFAULT_MODEL_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the raw pose descriptor (`modeling_gym_gesture.pose_descriptor`) over
    the windows of the training sources (split.json) of `model_dir` in `data`: the constants that
    standardize it: `POSE_DESCRIPTOR_MEAN` / `_STD` for its first `POSE_DESCRIPTOR_DIM["pose"]` values,
    `SPREAD_DESCRIPTOR_MEAN` / `_STD` for the spreads' of "pose-spread"."""
    import torch

    from gym_gesture.data.windows import windows_from_datasets
    from gym_gesture.training.evaluate import split_pose_datasets
    from gym_gesture.model.pose_descriptor import pose_descriptor

    model = load_model(model_dir)
    windows = windows_from_datasets(split_pose_datasets(str(model_dir), data, split="train"), model.config)[0]
    descriptors = pose_descriptor(torch.from_numpy(windows.keypoints), torch.from_numpy(windows.attention_mask).bool(),
                                  model.config.layout, standardize=False).numpy()
    print(f"{len(descriptors)} training windows of {model_dir.name}")
    return descriptors.mean(axis=0), descriptors.std(axis=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "enroll",
                        help="results path without suffix (.json and .md)")
    parser.add_argument("--draws", type=int, default=5, help="random draws of the enrolled clips a class and k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--descriptor-statistics", nargs="+", metavar="DATA",
                        help="print the pose descriptor's standardising constants from the default model's training "
                             "sources in DATA (its training data), instead of the benchmark")
    parser.add_argument("--margins", nargs="+", type=float, metavar="MARGIN",
                        help="instead of the benchmark, the threshold margins' sweep on MARGIN_CLASSES (k = 3), "
                             "written to results/enroll_margins")
    args = parser.parse_args(argv)
    if args.margins:
        margin_sweep(REPO_ROOT / "results" / "enroll_margins", args.margins, args.draws, args.seed)
        return
    if args.descriptor_statistics:
        from gym_gesture.model.pose_descriptor import POSE_DESCRIPTOR_DIM

        angles = POSE_DESCRIPTOR_DIM["pose"]
        for name, values in zip(("MEAN", "STD"), descriptor_statistics(args.descriptor_statistics)):
            for part, selected in (("POSE", values[:angles]), ("SPREAD", values[angles:])):
                print(f"{part}_DESCRIPTOR_{name} = ({', '.join(f'{value:.4g}' for value in selected)})")
        return
    run(args.out, args.draws, args.seed)


if __name__ == "__main__":
    main()
