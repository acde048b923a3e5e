"""Where two pose extractions of the same clips follow different bodies: frame by frame, and by the part of a
model's split each clip is in.

For each clip in both extractions (pose datasets written by `gym-gesture extract`, e.g. with `mediapipe` and
with `mediapipe-people`): the frames where both found a person but their skeletons lie apart (the median
distance of the joints over `--apart` of the person's size, in the first extraction), and the frames where only
one found a person. With `--model`, each clip's part of that model's split.json (by its source): whether the
frames a model trained on differ.

    python -m benchmarks.extractions_compared $C/clips22_views_mp10 $C/clips22_views_people_v2_mp10 \\
        --model gym_gesture/checkpoints/gym22-transformer --out results/gym22/extractions_compared
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

APART = 0.3


def frames_apart(first: np.ndarray, second: np.ndarray, apart: float = APART) -> np.ndarray:
    """(T,) True where both skeletons (T, J, 2+; NaN: no person) are found and lie apart: the median distance of
    their joints is over `apart` of the first one's size (the longer side of its joints' bounding box)."""
    frames = min(len(first), len(second))
    first, second = first[:frames, :, :2], second[:frames, :, :2]
    both = np.isfinite(first).all(axis=(1, 2)) & np.isfinite(second).all(axis=(1, 2))
    result = np.zeros(frames, bool)
    if both.any():
        size = np.ptp(first[both], axis=1).max(axis=-1)
        distance = np.median(np.linalg.norm(first[both] - second[both], axis=-1), axis=1)
        result[both] = distance > apart * np.maximum(size, 1e-6)
    return result


def compare(first_path: str, second_path: str, split: dict | None, apart: float = APART) -> list[dict]:
    from gym_gesture.data.windows import load_pose_datasets

    part_of = {source: part for part, sources in (split or {}).items() for source in sources}
    second = {}
    for dataset in load_pose_datasets([second_path]):
        for row in dataset.select_columns(["clip_id", "keypoints", "detected"]).with_format("numpy"):
            second[str(row["clip_id"])] = row
    rows = []
    for dataset in load_pose_datasets([first_path]):
        for row in dataset.select_columns(["clip_id", "source_id", "label", "keypoints", "detected"]).with_format("numpy"):
            other = second.get(str(row["clip_id"]))
            if other is None:
                continue
            apart_in = frames_apart(row["keypoints"], other["keypoints"], apart)
            frames = len(apart_in)
            found, found_other = row["detected"][:frames].astype(bool), other["detected"][:frames].astype(bool)
            rows.append({"clip_id": str(row["clip_id"]), "label": str(row["label"]),
                         "split_part": part_of.get(str(row["source_id"])), "frames": frames,
                         "frames_apart": np.flatnonzero(apart_in).tolist(),
                         "only_first_found": int((found & ~found_other).sum()),
                         "only_second_found": int((~found & found_other).sum())})
    return rows


def markdown(rows: list[dict], first: str, second: str, apart: float) -> str:
    differing = [row for row in rows if row["frames_apart"]]
    lines = [__doc__.split("\n\n")[0], "", f"First: `{first}`; second: `{second}`. {len(rows)} clips in both; "
             f"{len(differing)} with frames where the two skeletons lie apart (median joint distance over {apart} "
             "of the person's size):", "",
             "| clip | class | split part | frames | frames apart | found by the first only | by the second only |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row in sorted(differing, key=lambda row: -len(row["frames_apart"])):
        lines.append(f"| {row['clip_id']} | {row['label']} | {row['split_part'] or '-'} | {row['frames']} | "
                     f"{len(row['frames_apart'])} | {row['only_first_found']} | {row['only_second_found']} |")
    parts = sorted({str(row["split_part"]) for row in differing})
    lines += ["", "Frames apart by split part: " + ", ".join(
        f"{part} {sum(len(row['frames_apart']) for row in differing if str(row['split_part']) == part)}"
        for part in parts) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", help="a pose dataset (e.g. extracted with mediapipe)")
    parser.add_argument("second", help="the same clips extracted otherwise (e.g. with mediapipe-people)")
    parser.add_argument("--model", help="a model folder whose split.json gives each clip's split part")
    parser.add_argument("--apart", type=float, default=APART, help="share of the person's size (default %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="results path without suffix (.json and .md)")
    args = parser.parse_args(argv)

    split = None
    if args.model:
        from gym_gesture.training.evaluate import load_split

        split = load_split(args.model)
    rows = compare(args.first, args.second, split, args.apart)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"first": args.first, "second": args.second,
                                                         "model": args.model, "apart": args.apart, "clips": rows},
                                                        indent=1) + "\n")
    table = markdown(rows, args.first, args.second, args.apart)
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
