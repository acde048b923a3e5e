"""The data commands: labels, extract, import-keypoints."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError, MissingFileError
from .options import add_backend


def run_labels(args) -> int:
    """list the 22 canonical exercise classes"""
    from ..data.labels import CLASS_NAMES

    for index, name in enumerate(CLASS_NAMES):
        print(f"{index:2d}  {name}")
    return 0


def add_extract_arguments(parser) -> None:
    parser.add_argument("video_dir", metavar="VIDEO_DIR_OR_MANIFEST")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    add_backend(parser)
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the keypoint series; frames are dropped/repeated by time (default: 30)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="parallel processes, each with its own backend (default: 1); with --ray, Ray actors "
                             "(default: one per CPU of the cluster, per GPU for mmpose)")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="run the clips on a Ray cluster (the ray extra): 'local' starts one on this machine, "
                             "'auto' joins the one `ray start` runs here, ray://HOST:10001 a remote head; "
                             "the dataset is written here, at --out")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="try at most N more clips and stop without writing the dataset; "
                             "rerun to continue")
    parser.add_argument("--source-per-clip", action="store_true",
                        help="every clip is its own source video for splits (unrelated clips, like clips22); "
                             "default: ids sharing their first number (squat_13, squat_13_1) are one source")
    parser.add_argument("--other-exercises", action="store_true",
                        help="keep folders of exercises outside the 22 (negatives to abstain on) instead of "
                             "refusing their names as typos")


def run_extract(args) -> int:
    """pose keypoints of a class-folder tree of videos, saved as a pose dataset

    Run a pose backend over VIDEO_DIR/<class name>/<video file>, or over the videos a manifest.json lists
    (VIDEO_DIR/manifest.json, or the file itself: [{"file", "label"}, ...]), and save a Hugging Face dataset at
    DATASET_DIR. Resumable: rerun the same command after an interruption."""
    from ..data.extract import extract_dataset, format_extract_report

    report = extract_dataset(args.video_dir, args.out, backend=args.backend, fps=args.fps,
                             workers=args.workers, limit=args.limit, source_per_clip=args.source_per_clip,
                             ray=args.ray, other_exercises=args.other_exercises)
    for failure in report["failed"]:
        print(f"skipped: {failure['error']}", file=sys.stderr)
    print(format_extract_report(report, args.out))
    return 0


def add_import_keypoints_arguments(parser) -> None:
    parser.add_argument("npz", metavar="FILE.npz")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the archive's series where its sidecar JSON gives none (default: 30)")
    parser.add_argument("--frame-size", type=frame_size, default=None, metavar="WIDTHxHEIGHT",
                        help="frame size of the archive's clips where its sidecar JSON gives none, e.g. 1280x720 "
                             "(default: unknown; a 2-channel model then reads x / width and y / height as they "
                             "are, stretched by the frame's unknown shape)")


def frame_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is no frame size; write WIDTHxHEIGHT in pixels, e.g. 1280x720")
    return int(width), int(height)


def run_import_keypoints(args) -> int:
    """turn a keypoint archive (.npz of MediaPipe-33, OpenPose-18 or Penn Action-13 joints) into a pose dataset"""
    from pathlib import Path

    from ..data.dataset import dataset_from_records, records_from_npz
    from ..data.labels import CLASS_NAMES

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not empty; choose another --out")
    if not Path(args.npz).is_file():
        raise MissingFileError(f"{args.npz}: no such file")
    dataset = dataset_from_records(records_from_npz(args.npz, fps=args.fps, frame_size=args.frame_size))
    dataset.save_to_disk(str(out))
    print(f"{len(dataset)} clips saved to {out} (joint layout {dataset[0]['layout']})")
    others = sorted(set(dataset["label"]) - set(CLASS_NAMES))
    if others:  # a misspelt class would land here too
        print(f"classes outside the {len(CLASS_NAMES)} kept under their own names: {', '.join(others)}")
    return 0
