"""The `gym-gesture` command line: thin sub-commands over the package.

Each sub-command has an `_add_<name>` function that declares its arguments and sets `run`, the
function that does the work. Errors the user can fix (bad paths, bad input) end in one line on
stderr and exit status 1, never in a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _add_labels(subparsers) -> None:
    parser = subparsers.add_parser("labels", help="list the 22 canonical exercise classes")
    parser.set_defaults(run=_run_labels)


def _run_labels(args) -> int:
    from .labels import CLASS_NAMES

    for index, name in enumerate(CLASS_NAMES):
        print(f"{index:2d}  {name}")
    return 0


def _add_extract(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract", help="pose keypoints of a class-folder tree of videos, saved as a pose dataset",
        description="Run a pose backend over VIDEO_DIR/<class name>/<video file> and save a Hugging Face "
                    "dataset at DATASET_DIR. Resumable: rerun the same command after an interruption.")
    parser.add_argument("video_dir", metavar="VIDEO_DIR")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME",
                        help="pose backend (default: mediapipe)")
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the keypoint series; frames are dropped/repeated by time (default: 30)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="parallel processes, each with its own backend (default: 1)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="try at most N more clips and stop without writing the dataset; "
                             "rerun to continue")
    parser.set_defaults(run=_run_extract)


def _run_extract(args) -> int:
    from .extract import REPORT_FILE, extract_dataset

    report = extract_dataset(args.video_dir, args.out, backend=args.backend, fps=args.fps,
                             workers=args.workers, limit=args.limit)
    for failure in report["failed"]:
        print(f"skipped: {failure['error']}", file=sys.stderr)
    if report["complete"]:
        print(f"{report['clips']} clips saved to {args.out} ({report['skipped_already_done']} from an earlier "
              f"run), {len(report['failed'])} failed; report: {args.out}/{REPORT_FILE}")
    else:
        print(f"{report['clips']} clips done so far, {len(report['failed'])} failed; rerun to continue")
    return 0


def _add_import_keypoints(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-keypoints", help="turn a keypoint archive (.npz, MediaPipe-33) into a pose dataset")
    parser.add_argument("npz", metavar="FILE.npz")
    parser.add_argument("--out", required=True, metavar="DATASET_DIR")
    parser.add_argument("--fps", type=float, default=30.0, metavar="F",
                        help="frame rate of the archive's series (default: 30)")
    parser.set_defaults(run=_run_import_keypoints)


def _run_import_keypoints(args) -> int:
    from pathlib import Path

    from .dataset import dataset_from_records, records_from_npz

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: exists and is not empty; choose another --out")
    if not Path(args.npz).is_file():
        raise FileNotFoundError(f"{args.npz}: no such file")
    dataset = dataset_from_records(records_from_npz(args.npz, fps=args.fps))
    dataset.save_to_disk(str(out))
    print(f"{len(dataset)} clips saved to {out}")
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="recognise the exercise in a video clip",
        description="Run the pose backend and the model over VIDEO and print the top classes, "
                    "or the full result as JSON with --json.")
    parser.add_argument("video", metavar="VIDEO")
    parser.add_argument("--model", default=None, metavar="DIR_OR_HUB_ID",
                        help="model folder or Hub id (default: the shipped checkpoint)")
    parser.add_argument("--backend", default="mediapipe", metavar="NAME",
                        help="pose backend (default: mediapipe)")
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="classes to list (default: 5)")
    parser.add_argument("--overlay", default=None, metavar="OUT.mp4",
                        help="also write the clip with the skeleton drawn over it (H.264 MP4)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(run=_run_predict)


def _run_predict(args) -> int:
    import json

    from tqdm import tqdm

    from .inference import Recognizer
    from .video import probe

    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")
    probe(args.video)  # a missing or unreadable file fails before the model is loaded
    recognizer = Recognizer.from_pretrained(args.model, backend=args.backend)
    with tqdm(total=100, unit="%", desc="pose", disable=args.json or not sys.stderr.isatty()) as bar:
        def progress(fraction: float, stage: str) -> None:
            bar.set_description(stage)
            bar.update(round(fraction * 100) - bar.n)

        try:
            prediction = recognizer.predict(args.video, top_k=args.top_k, overlay_path=args.overlay,
                                            progress=progress)
        finally:
            recognizer.close()
    if args.json:
        print(json.dumps(prediction.to_json(), indent=1))
        return 0
    for rank, item in enumerate(prediction.top_k, 1):
        print(f"{rank}. {item['label']:<20} {item['score']:.1%}")
    print(f"{len(prediction.windows)} windows, person found in {prediction.detected_frames}/{prediction.frames} "
          f"frames, {prediction.seconds:.1f} s" + (f"; overlay: {args.overlay}" if args.overlay else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gym-gesture", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gym-gesture {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in (_add_labels, _add_extract, _add_import_keypoints, _add_predict):
        add_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"gym-gesture {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gym-gesture {args.command}: interrupted", file=sys.stderr)
        return 130
