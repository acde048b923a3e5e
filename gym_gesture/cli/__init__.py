"""The `gym-gesture` command line: thin sub-commands over the package.

The commands are declared by group: `data` (labels, extract, import-keypoints), `training` (train, evaluate,
compare, evaluate-videos, train-form, calibrate, enroll), `recognize` (predict, live) and `serve` (app,
push). A command's module has `run_<name>`, the function that does the work, whose docstring gives the
command's help (its first line) and description (the rest), and `add_<name>_arguments` where the command
takes any; this module builds the parser from them and runs the command. Declaring them imports
nothing heavy (torch, transformers, mediapipe, gradio load inside `run`), so `--help` and refused input
answer at once. Errors the user can fix (`GymGestureError`, or an OSError on the user's files) end in one
line on stderr and exit status 1; anything else is a bug: its traceback and exit status 70. `--debug` shows
the traceback of both.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import traceback

from .. import __version__
from ..core.errors import GymGestureError
from . import data, recognize, serve, training

EXIT_USER_ERROR = 1
EXIT_BUG = 70  # EX_SOFTWARE of sysexits.h: an internal software error
EXIT_INTERRUPTED = 130
# The commands and their modules, in the order `--help` lists them.
COMMANDS = (("labels", data), ("extract", data), ("import-keypoints", data), ("train", training),
            ("evaluate", training), ("compare", training), ("evaluate-videos", training), ("predict", recognize),
            ("train-form", training), ("calibrate", training), ("live", recognize), ("enroll", training),
            ("app", serve), ("push", serve))


def _add_command(subparsers, name: str, module) -> None:
    function = name.replace("-", "_")
    run = getattr(module, f"run_{function}")
    help_line, _, description = inspect.getdoc(run).partition("\n\n")
    parser = subparsers.add_parser(name, help=help_line, description=description or None)
    if hasattr(module, f"add_{function}_arguments"):
        getattr(module, f"add_{function}_arguments")(parser)
    parser.set_defaults(run=run)


def _add_global_options(parser, default) -> None:
    """--debug and --verbose, accepted before and after the command: `default` is False on the main parser
    and SUPPRESS on the commands', so that a command's parser does not reset what was given before it."""
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the traceback of every error, the user's mistakes included")
    parser.add_argument("--verbose", action="store_true", default=default,
                        help="let MediaPipe / TFLite print their native log lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gym-gesture", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gym-gesture {__version__}")
    _add_global_options(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS:
        _add_command(subparsers, name, module)
    for command_parser in subparsers.choices.values():
        _add_global_options(command_parser, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.verbose:
        from ..pose.native_logs import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    prefix = f"{parser.prog} {args.command}"
    try:
        return args.run(args)
    except (GymGestureError, OSError) as error:  # the user's mistake, or a problem with the user's files
        if args.debug:
            traceback.print_exc()
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 (a bug: reported with its traceback)
        traceback.print_exc()
        print(f"{prefix}: internal error (a bug in gym-gesture {__version__}); please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_BUG


__all__ = ["EXIT_BUG", "EXIT_INTERRUPTED", "EXIT_USER_ERROR", "build_parser", "main"]
