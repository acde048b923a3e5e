"""MediaPipe's C++ graph (TFLite, absl) logs 6-8 lines of its own when a graph starts running ("Created
TensorFlow Lite XNNPACK delegate", "Feedback manager requires a model with a single signature ..."). They are
written straight to file descriptor 2 from the graph's threads, before absl's logging is set up, so neither
`GLOG_minloglevel` nor `TF_CPP_MIN_LOG_LEVEL` nor Python's logging reaches them: the only way to hide them is
to point file descriptor 2 elsewhere while the graph starts. That is done unless `GYM_GESTURE_VERBOSE` is set
(`gym-gesture --verbose` sets it; worker processes inherit it).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "GYM_GESTURE_VERBOSE"

# File descriptor 2 is shared by the whole process: one redirection at a time.
_redirect_lock = threading.Lock()


def native_logs_shown() -> bool:
    return bool(os.environ.get(VERBOSE_ENV))


@contextmanager
def native_logs_silenced() -> Iterator[None]:
    """Send what is written to file descriptor 2 inside the block to the null device (unless verbose).

    Anything else the process writes to stderr meanwhile is lost too, so keep the block short: the start of
    a graph, not a whole run.
    """
    if native_logs_shown():
        yield
        return
    with _redirect_lock:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)
