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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gym-gesture", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gym-gesture {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in (_add_labels,):
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
