"""The project's error type for mistakes the user can fix: a missing or unreadable file, a bad option value,
data that does not fit. The CLI prints these as one line; any other exception is a bug and keeps its traceback.

Each subclass is also the built-in type raised for that mistake before, so `except ValueError` and
`except FileNotFoundError` keep working.
"""


class GymGestureError(Exception):
    """A mistake the user can fix; the message names the file or option and what is wrong with it."""


class InputError(GymGestureError, ValueError):
    """An input or option value that cannot be used: an unreadable video, a malformed archive, --top-k 0."""


class MissingFileError(GymGestureError, FileNotFoundError):
    """A file or folder the user named does not exist (or is not what it should be)."""


class MissingExtraError(GymGestureError, ImportError):
    """An optional dependency (an extra such as MMPose) that the chosen feature needs is not installed."""
