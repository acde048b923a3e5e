"""The real clips of `../shared/data` made ready for training and for the leave-exercise-out protocol.

    python -m benchmarks.data_folds --clips22 ../shared/data/clips22 --out /tmp/folds       # the manifests
    gym-gesture extract /tmp/folds/unknown_views.json --out /tmp/unknown_views_mp10 --fps 10 --other-exercises
    python -m benchmarks.data_folds --clips22 ../shared/data/clips22 --unknown /tmp/unknown_views_mp10 --out /tmp/folds

writes:
- `OUT/clips22_views.json` and `OUT/unknown_views.json`, manifests for `gym-gesture extract` of `clips22/`
  and of `unknown/` (beside it): every clip with its source (the takes of one performance filmed from two
  sides share one, `same_take_group`, so no split puts them on both sides), and each split-screen clip
  (`yellownega_Plan-Master__*` whose frame is over `SPLIT_SCREEN_ASPECT` times as wide as high: a front and
  a side view of one person side by side) as two clips, its left and right halves, of one source. The
  manifest calls every Plan-Master clip split-screen, but the two chest fly clips are single views (about
  2:1; the split ones are about 3.2:1). Whole, a split-screen frame shows a person squeezed sideways to a
  model that reads x / width and y / height, which no camera a user holds does: 11 of the 45 clips of
  `unknown/` are such clips;
- with `--unknown` (the pose dataset of `unknown_views.json`): `OUT/unknown_fold0`, `OUT/unknown_fold1`,
  that dataset cut by exercise type into two folds, to train on as outliers (and calibrate against);
  `OUT/unknown_held_out0`, `OUT/unknown_held_out1`: each fold's types alone, to measure on. A model trained
  with fold 0's types as outliers is measured on `unknown_held_out1`, types neither it nor its thresholds saw,
  and `OUT/unknown_unseen` (both folds' types) measures a model trained with none of them;
- `OUT/unknown_held_out0_videos.json`, `OUT/unknown_held_out1_videos.json`: the views of each fold's types,
  for `gym-gesture evaluate-videos`, the deployed path.
  The folds balance the types' videos (a split-screen clip counts once, so the folds are the ones the shipped
  checkpoint was trained on). Near variants stay in one fold (side plank and its hip dips, the rows, the
  push-up variants, the rear-delt pulls, the triceps isolations, the single-leg squats), so that a held-out
  type never has its twin in training.
  Types that the keypoint archives already hold as outliers (front raise, shrug, situp) are in both folds'
  training side (`ARCHIVE_TYPES`) and never measured as unseen;
- `OUT/folds.json`: the types of each fold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SPLIT_SCREEN_MARK = "yellownega_Plan-Master__"
SPLIT_SCREEN_ASPECT = 2.5
HALVES = {"left": [0.0, 0.0, 0.5, 1.0], "right": [0.5, 0.0, 1.0, 1.0]}
ARCHIVE_TYPES = ("front raise", "shrug", "situp")
NEAR_VARIANTS = (("side plank", "side plank hip dips"), ("wall push up", "pike push up"),
                 ("dumbbell row", "plank row", "seated row machine"), ("face pull", "band pull apart"),
                 ("overhead triceps extension", "tricep kickback"), ("bulgarian split squat", "step up"))


def _is_split_screen(path: Path) -> bool:
    from gym_gesture.pose.video import probe

    if SPLIT_SCREEN_MARK not in path.name:  # only these clips are ever split-screen: no need to open the rest
        return False
    info = probe(path)
    return info.width >= SPLIT_SCREEN_ASPECT * info.height


def manifest_views(folder: Path) -> list[dict]:
    """The clips of `folder/manifest.json` as views: split-screen clips cut in their halves, of one source."""
    entries = []
    for entry in json.loads((folder / "manifest.json").read_text()):
        path = (folder / entry["file"]).resolve()
        source = entry.get("same_take_group") or path.stem
        if _is_split_screen(path):
            entries += [{"file": str(path), "label": entry["label"], "clip_id": f"{path.stem}-{half}",
                         "source_id": source, "crop": crop} for half, crop in HALVES.items()]
        else:
            entries.append({"file": str(path), "label": entry["label"], "clip_id": path.stem, "source_id": source})
    return entries


def type_folds(counts: dict[str, int]) -> list[list[str]]:
    """Two folds of the types in `counts` (clips per type), near variants together, balanced by clips."""
    grouped = {name for group in NEAR_VARIANTS for name in group}
    groups = [[name for name in group if name in counts] for group in NEAR_VARIANTS]
    groups += [[name] for name in sorted(counts) if name not in grouped and name not in ARCHIVE_TYPES]
    folds: list[list[str]] = [[], []]
    sizes = [0, 0]
    for group in sorted((g for g in groups if g), key=lambda g: (-sum(counts[n] for n in g), g)):
        smaller = sizes.index(min(sizes))
        folds[smaller] += group
        sizes[smaller] += sum(counts[name] for name in group)
    return [sorted(fold) for fold in folds]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips22", type=Path, required=True)
    parser.add_argument("--unknown", type=Path, default=None,
                        help="pose dataset of OUT/unknown_views.json (extract --other-exercises), to cut into folds")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from collections import Counter

    from gym_gesture.data.dataset import load_pose_dataset

    def write(name: str, content) -> None:
        (args.out / name).write_text(json.dumps(content, indent=1) + "\n")

    args.out.mkdir(parents=True, exist_ok=True)
    write("clips22_views.json", manifest_views(args.clips22))
    unknown_videos = args.clips22.parent / "unknown"
    views = manifest_views(unknown_videos)
    write("unknown_views.json", views)
    folds = type_folds(Counter({view["file"]: view["label"] for view in views}.values()))  # videos, not views
    for index, fold in enumerate(folds):
        write(f"unknown_held_out{index}_videos.json", [view for view in views if view["label"] in fold])
    write("folds.json", {"held_out_types": folds, "in_both": list(ARCHIVE_TYPES), "near_variants": NEAR_VARIANTS})
    for index, fold in enumerate(folds):
        print(f"fold {index}: {', '.join(fold)}")
    if args.unknown is None:
        print(f"next: gym-gesture extract {args.out / 'unknown_views.json'} --out UNKNOWN --fps 10 --other-exercises, "
              "then this again with --unknown UNKNOWN")
        return
    unknown = load_pose_dataset(args.unknown)

    def save(types, name: str) -> None:
        unknown.filter(lambda label: label in types, input_columns=["label"]).save_to_disk(str(args.out / name))

    for index, fold in enumerate(folds):
        save(set(fold) | set(ARCHIVE_TYPES), f"unknown_fold{index}")
        save(set(fold), f"unknown_held_out{index}")
    save(set(folds[0]) | set(folds[1]), "unknown_unseen")


if __name__ == "__main__":
    main()
