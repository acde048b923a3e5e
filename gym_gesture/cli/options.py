"""What more than one command group takes or checks: the Hub revision of a model, the pose backend, an output
path."""

from __future__ import annotations

from ..core.errors import InputError, MissingFileError
from ..pose import DEFAULT_BACKEND


def add_revision(parser) -> None:
    parser.add_argument("--revision", default=None, metavar="REV",
                        help="with a Hub id: the branch, tag or commit to download (default: main)")


def add_backend(parser, of_what: str = "") -> None:
    parser.add_argument("--backend", default=DEFAULT_BACKEND, metavar="NAME",
                        help=f"pose backend{of_what} (default: {DEFAULT_BACKEND}; mediapipe-people follows the person "
                             "exercising when others are in view, mediapipe sees one person)")


def check_writable(path: str, option: str) -> None:
    """Refuse an output path that cannot be written before the long work that ends in writing it. Tries to
    open it, since permission bits do not tell (root, read-only file systems)."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: a folder; give a file name")
    if not path.parent.is_dir():
        raise MissingFileError(f"{option} {path}: no such folder {path.parent}")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        raise InputError(f"{option} {path}: cannot be written ({error.strerror})") from error
    if not existed:
        path.unlink()
