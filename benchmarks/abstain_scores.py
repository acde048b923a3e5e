"""Which score to abstain on: scores of a model's windows compared by leave-exercise-out cross-validation.

For every clip of the pose data: the top probability (mean of its windows' probabilities), the energy
score (logsumexp of the logits), the class-conditional Mahalanobis distance in the trunk's pooled
embedding (shared covariance, fitted on the training windows of the model's split), and the k-th nearest
training window's cosine similarity, of the named class, in the embedding and in the pose descriptor
(`model/pose_descriptor.py`); each the mean over the clip's windows. Known clips: the validation part of
the model's split.json. Negatives: `--unseen` clips, exercise types the model never saw, cut into
`--folds` folds by type, and the validation clips of the outlier types the model trained on. Each fold's
types are held out in turn: a logistic gate over a set of scores is fitted on the known clips of the other
folds (the known clips are cut into folds too) against the other folds' types, its threshold set where
`--max-lost` of those known clips are abstained on, and it is measured on the held-out fold.

    python -m benchmarks.abstain_scores --model runs/gym22 --data $DATA --unseen /tmp/unknown_unseen \\
        --out results/gym22-previous/abstain_scores
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

CANDIDATES = (("top_probability",), ("knn_embedding",), ("top_probability", "energy"),
              ("top_probability", "knn_embedding"), ("top_probability", "knn_embedding", "knn_descriptor"),
              ("top_probability", "mahalanobis"),
              ("top_probability", "energy", "mahalanobis", "knn_embedding", "knn_any_embedding", "knn_descriptor"))


def clip_scores(model_dir: str, data: list[str], unseen: list[str], k: int = 5) -> list[dict]:
    import torch
    from scipy.special import logsumexp, softmax

    from gym_gesture.data.windows import load_pose_datasets, row_frame_size, windows_from_sequence
    from gym_gesture.inference.recognizer import load_model, resolve_model_dir
    from gym_gesture.model.modeling_gym_gesture import prepare_inputs
    from gym_gesture.model.pose_descriptor import pose_descriptor

    model = load_model(model_dir)
    config, labels = model.config, [model.config.id2label[i] for i in range(model.config.num_labels)]
    split = json.loads((resolve_model_dir(model_dir) / "split.json").read_text())
    part_of = {source: part for part, sources in split.items() for source in sources}
    rows, windows = [], defaultdict(list)
    for source, paths in (("data", data), ("unseen", unseen)):
        for dataset in load_pose_datasets(paths):
            for row in dataset.with_format("numpy"):
                cut = windows_from_sequence(row["keypoints"], str(row["layout"]), float(row["fps"]), config,
                                            frame_size=row_frame_size(row))
                if not len(cut):
                    continue
                keypoints, mask = torch.from_numpy(cut.keypoints), torch.from_numpy(cut.attention_mask).bool()
                with torch.inference_mode():
                    pooled = model.model(keypoints, attention_mask=mask).pooler_output
                    logits = model.classifier(pooled)
                    checked, valid = prepare_inputs(config, keypoints, mask)[:2]
                    descriptor = pose_descriptor(checked, valid, config.layout)
                rows.append({"label": str(row["label"]), "clip_id": str(row["clip_id"]), "unseen": source == "unseen",
                             "part": part_of.get(str(row["source_id"]), "none")})
                for name, value in (("logits", logits), ("embedding", pooled), ("descriptor", descriptor)):
                    windows[name].append(value.numpy())
    train = [i for i, row in enumerate(rows) if row["label"] in labels and row["part"] == "train"]
    bank = {name: np.concatenate([windows[name][i] for i in train]) for name in ("embedding", "descriptor")}
    bank_labels = np.concatenate([[labels.index(rows[i]["label"])] * len(windows["logits"][i]) for i in train])
    unit = {name: bank[name] / np.linalg.norm(bank[name], axis=1, keepdims=True) for name in bank}
    embedding = bank["embedding"]
    means = np.stack([embedding[bank_labels == c].mean(0) if (bank_labels == c).any() else np.zeros(embedding.shape[1])
                      for c in range(len(labels))])
    precision = np.linalg.inv(np.cov((embedding - means[bank_labels]).T) + 1e-3 * np.eye(embedding.shape[1]))
    for row, logits, pooled, descriptor in zip(rows, windows["logits"], windows["embedding"], windows["descriptor"]):
        probabilities = softmax(logits, -1)
        named = probabilities.mean(0).argmax()
        row["named"] = labels[named]
        row["top_probability"] = float(probabilities.mean(0).max())
        row["energy"] = float(logsumexp(logits, -1).mean())
        offsets = pooled[:, None] - means[None]
        row["mahalanobis"] = float(-np.einsum("ncd,de,nce->nc", offsets, precision, offsets).min(1).mean())
        for name, values in (("embedding", pooled), ("descriptor", descriptor)):
            similarity = (values / np.linalg.norm(values, axis=1, keepdims=True)) @ unit[name].T
            own = np.sort(similarity[:, bank_labels == named], axis=1)[:, ::-1]
            row[f"knn_{name}"] = float(own[:, min(k, own.shape[1]) - 1].mean())
            if name == "embedding":
                row["knn_any_embedding"] = float(np.sort(similarity, axis=1)[:, ::-1][:, k - 1].mean())
    return rows


def cross_validate(rows: list[dict], labels: set[str], scores: tuple[str, ...], folds: int, seeds: int,
                   max_lost: float) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    known = [row for row in rows if row["label"] in labels and row["part"] == "validation"]
    unseen = [row for row in rows if row["unseen"]]
    seen = [row for row in rows if not row["unseen"] and row["label"] not in labels and row["part"] == "validation"]
    types = sorted({row["label"] for row in unseen})
    per_type, lost, aurocs = defaultdict(list), [], []
    values = lambda chosen: np.array([[row[name] for name in scores] for row in chosen])  # noqa: E731
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        type_fold = {name: i % folds for i, name in enumerate(rng.permutation(types))}
        known_fold = rng.integers(0, folds, len(known))
        for fold in range(folds):
            known_in = [row for row, f in zip(known, known_fold) if f != fold]
            known_out = [row for row, f in zip(known, known_fold) if f == fold]
            negatives_in = [row for row in unseen if type_fold[row["label"]] != fold] + seen
            held_out = [row for row in unseen if type_fold[row["label"]] == fold]
            if len(scores) == 1:
                score = lambda chosen: values(chosen)[:, 0]  # noqa: E731
            else:
                gate = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced")).fit(
                    values(known_in + negatives_in), np.r_[np.ones(len(known_in)), np.zeros(len(negatives_in))])
                score = lambda chosen, gate=gate: gate.decision_function(values(chosen))  # noqa: E731
            threshold = np.quantile(score(known_in), max_lost)
            lost += list(score(known_out) < threshold)
            for row, value in zip(held_out, score(held_out)):
                per_type[row["label"]].append(bool(value < threshold))
            aurocs.append(roc_auc_score(np.r_[np.ones(len(known_out)), np.zeros(len(held_out))],
                                        np.r_[score(known_out), score(held_out)]))
    return {"scores": list(scores), "held_out_abstained": round(float(np.mean(sum(per_type.values(), []))), 3),
            "known_abstained": round(float(np.mean(lost)), 3), "auroc": round(float(np.mean(aurocs)), 3),
            "per_type": {name: round(float(np.mean(v)), 2) for name, v in sorted(per_type.items())}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--unseen", nargs="+", required=True, help="pose data of exercise types the model never saw")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-lost", type=float, default=0.05)
    parser.add_argument("--out", type=Path, required=True, help="results path without suffix (.json and .md)")
    args = parser.parse_args(argv)
    from gym_gesture.inference.recognizer import load_model

    labels = set(load_model(args.model).config.label2id)
    rows = clip_scores(args.model, args.data, args.unseen)
    results = [cross_validate(rows, labels, scores, args.folds, args.seeds, args.max_lost) for scores in CANDIDATES]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"model": args.model, "results": results}, indent=1) + "\n")
    lines = [f"Leave-exercise-out, {args.folds} folds of types x {args.seeds} seeds, threshold at {args.max_lost} "
             "of the known clips:", "", "| scores | held-out types abstained | known abstained | AUROC |",
             "|---|---:|---:|---:|"]
    lines += [f"| {' + '.join(r['scores'])} | {r['held_out_abstained']:.3f} | {r['known_abstained']:.3f} | "
              f"{r['auroc']:.3f} |" for r in results]
    args.out.with_suffix(".md").write_text(__doc__.split("\n\n")[0] + "\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
