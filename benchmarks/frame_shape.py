"""How a model's verdicts depend on the shape of the frame a person is filmed in.

Every clip is put, centred, in the smallest frame of a given shape that holds its own frame: the same person
filmed with a wider view, in portrait or in landscape. Its keypoints (x / width, y / height) move and scale
with the frame; nothing is extracted again, so the pose is exactly the one filmed. Clips whose frame size the
data did not record stay as they are (counted). Each model is measured in each shape with its own calibrated
thresholds (its folder's calibration.json), through `Recognizer.recognize_sequence`, the path of predict:
- known clips (the validation part of each model's split.json in `--data`): named right (the verdict names
  the true class), abstained on (and by which verdict: "not sure", or "not an exercise": walking or no
  exercise motion), and the clip accuracy and macro F1 of the class the clip's scores rank first;
- unseen clips (`--unseen`, exercise types no model here nor its thresholds saw): abstained on, the AUROC of
  the top probability between them and the known clips, and the share abstained on at the probability that
  keeps 0.95 of the known clips named (the probability alone).

    python -m benchmarks.frame_shape --data $DATA --unseen $C/folds_views/unknown_held_out0 \\
        --models gym_gesture/checkpoints/gym22-transformer runs/onescale-views-s0 --out results/gym22-frame-shape/frame_shape
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

# Frame shapes (width / height); None: the frame each clip was filmed in.
SHAPES = {"as filmed": None, "landscape 16:9": 16 / 9, "portrait 9:16": 9 / 16}
KNOWN_NAMED = 0.95


def in_frame_of_shape(keypoints: np.ndarray, frame_size: tuple[int, int] | None,
                      aspect: float | None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The keypoints (T, J, C; x / width and y / height in the first two channels) and frame size of a clip
    placed, centred, in the smallest frame of `aspect` (width / height) that holds its frame. Unchanged where
    `aspect` or the frame size is None."""
    if aspect is None or frame_size is None:
        return keypoints, frame_size
    width, height = frame_size
    framed = (max(width, round(height * aspect)), max(height, round(width / aspect)))
    scale = np.array([width / framed[0], height / framed[1]], np.float32)
    offset = np.array([(framed[0] - width) / 2 / framed[0], (framed[1] - height) / 2 / framed[1]], np.float32)
    placed = keypoints.copy()
    placed[..., :2] = keypoints[..., :2] * scale + offset
    return placed, framed


def clip_outcomes(recognizer, datasets, aspect: float | None, known: bool) -> list[dict]:
    """Each clip's true label, the class its scores rank first, whether the verdict named the true class,
    whether it abstained, and its top probability (None without a window), in frames of `aspect`."""
    from gym_gesture.data.windows import row_frame_size

    outcomes = []
    for dataset in datasets:
        for row in dataset.with_format("numpy"):
            label = str(row["label"])
            if known and label not in recognizer.config.label2id:
                continue
            keypoints, frame_size = in_frame_of_shape(row["keypoints"], row_frame_size(row), aspect)
            result = recognizer.recognize_sequence(keypoints, str(row["layout"]), float(row["fps"]), row["detected"],
                                                   frame_size=frame_size)
            if not len(result.windows):  # left out, as evaluate leaves out a known clip without a window
                continue
            outcomes.append({"label": label, "ranked_first": recognizer.labels[int(result.clip_scores.argmax())],
                             "named_right": result.abstain is None and result.exercise == label,
                             "abstained": result.abstain is not None, "verdict": result.verdict,
                             "probability": float(result.clip_sample.probability),
                             "frame_size_known": frame_size is not None})
    return outcomes


def measure(known: list[dict], unseen: list[dict]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    from benchmarks.clip_aggregates import separation

    true, first = [clip["label"] for clip in known], [clip["ranked_first"] for clip in known]
    separated = separation(np.array([clip["probability"] for clip in known]),
                           np.array([clip["probability"] for clip in unseen]), 1 - KNOWN_NAMED)
    return {
        "known_clips": len(known),
        "known_named_right": round(float(np.mean([clip["named_right"] for clip in known])), 4),
        "known_abstained": round(float(np.mean([clip["abstained"] for clip in known])), 4),
        "known_abstained_by_verdict": dict(sorted(Counter(clip["verdict"] for clip in known
                                                          if clip["abstained"]).items())),
        "clip_accuracy": round(float(accuracy_score(true, first)), 4),
        "clip_macro_f1": round(float(f1_score(true, first, labels=sorted(set(true)), average="macro",
                                              zero_division=0)), 4),
        "unseen_clips": len(unseen),
        "unseen_abstained": round(float(np.mean([clip["abstained"] for clip in unseen])), 4),
        "auroc_top_probability": separated["auroc"],
        f"unseen_abstained_at_{KNOWN_NAMED}_known_named": separated["unseen_abstained"],
        "clips_of_unknown_frame_size": sum(not clip["frame_size_known"] for clip in known + unseen),
    }


def measure_model(model_dir: str, data: list[str], unseen: list[str]) -> dict:
    """`measure` of the model in each of `SHAPES`, and the mean over them."""
    from gym_gesture.data.windows import load_pose_datasets
    from gym_gesture.inference.recognizer import Recognizer
    from gym_gesture.training.evaluate import split_pose_datasets

    recognizer = Recognizer.from_pretrained(model_dir, backend=None)
    known_data = split_pose_datasets(model_dir, data, "validation", known_labels=set(recognizer.config.label2id))
    unseen_data = load_pose_datasets(unseen)
    shapes = {shape: measure(clip_outcomes(recognizer, known_data, aspect, known=True),
                             clip_outcomes(recognizer, unseen_data, aspect, known=False))
              for shape, aspect in SHAPES.items()}
    figures = [key for key, value in shapes["as filmed"].items() if isinstance(value, float)]
    mean = {key: round(float(np.mean([shape[key] for shape in shapes.values()])), 4) for key in figures}
    return {"model": model_dir, "image_scale": recognizer.config.image_scale, "shapes": shapes,
            "mean_over_shapes": mean,
            "worst_known_abstained": max(shape["known_abstained"] for shape in shapes.values())}


COLUMNS = (("known_named_right", "known named right"), ("known_abstained", "known abstained"),
           ("clip_accuracy", "clip accuracy"), ("clip_macro_f1", "clip macro F1"),
           ("unseen_abstained", "unseen abstained"), ("auroc_top_probability", "AUROC"),
           (f"unseen_abstained_at_{KNOWN_NAMED}_known_named", f"unseen abstained at {KNOWN_NAMED} known named"))


def markdown(rows: list[dict]) -> str:
    first = rows[0]["shapes"]["as filmed"]
    lines = [__doc__.split("\n\n")[0], "",
             f"{first['known_clips']} known validation clips, {first['unseen_clips']} unseen clips; "
             f"{first['clips_of_unknown_frame_size']} of them of a frame size the data did not record (as filmed "
             "in every shape). Each model with its own calibrated thresholds.", "",
             "| model (image scale) | frame | " + " | ".join(name for _, name in COLUMNS)
             + " | known abstained, clips by verdict |", "|---|---|" + "---:|" * len(COLUMNS) + "---|"]
    for row in rows:
        for shape, figures in [*row["shapes"].items(), ("**mean**", row["mean_over_shapes"])]:
            verdicts = ", ".join(f"{verdict} {count}" for verdict, count in
                                 figures.get("known_abstained_by_verdict", {}).items())
            lines.append(f"| {row['model']} ({row['image_scale']}) | {shape} | "
                         + " | ".join(f"{figures[key]:.3f}" for key, _ in COLUMNS) + f" | {verdicts} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="pose data holding the models' validation clips")
    parser.add_argument("--unseen", nargs="+", required=True, help="pose data of exercise types no model here saw")
    parser.add_argument("--models", nargs="+", required=True, help="model folders, each with its calibration.json")
    parser.add_argument("--out", type=Path, required=True, help="results path without suffix (.json and .md)")
    args = parser.parse_args(argv)

    rows = [measure_model(model, args.data, args.unseen) for model in args.models]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"data": args.data, "unseen": args.unseen,
                                                         "shapes": SHAPES, "models": rows}, indent=1) + "\n")
    table = markdown(rows)
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
