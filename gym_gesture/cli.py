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
    for add_command in (_add_labels, _add_predict):
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
