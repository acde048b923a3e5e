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


def _add_train_form(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-form", help="fit the push-up form model on a labelled archive (correct*/wrong* clip ids)")
    parser.add_argument("npz", metavar="FILE.npz", help="e.g. ../shared/data/keypoints/pushup_form_mediapipe33.npz")
    parser.add_argument("--out", default="checkpoints/pushup_form.json", metavar="FILE.json")
    parser.add_argument("--test-size", type=float, default=0.25, metavar="F")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=_run_train_form)


def _run_train_form(args) -> int:
    from pathlib import Path

    from .form import train_form_model

    if not Path(args.npz).is_file():
        raise FileNotFoundError(f"{args.npz}: no such file")
    model = train_form_model(args.npz, test_size=args.test_size, seed=args.seed)
    model.save(args.out)
    metrics = model.metrics
    print(f"held-out ({metrics['test_clips']} clips): accuracy {metrics['test_accuracy']:.3f}, "
          f"F1 {metrics['test_f1_good']:.3f}; 5-fold accuracy {metrics['cv5_accuracy_mean']:.3f} "
          f"+- {metrics['cv5_accuracy_std']:.3f}; saved to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gym-gesture", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gym-gesture {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in (_add_labels, _add_extract, _add_import_keypoints, _add_train_form):
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
    except (ValueError, OSError, KeyError, ImportError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"gym-gesture {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"gym-gesture {args.command}: interrupted", file=sys.stderr)
        return 130
