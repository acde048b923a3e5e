"""The app's models, shared by its tabs: the one it starts with, and the others its model picker offers (the
shipped checkpoints, and taught-exercise folders in the user's folder `taught_models_dir`), each loaded once,
on first use, with one `Recognizer` per pose backend over its weights."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.paths import CHECKPOINTS_DIR, DEFAULT_MODEL_DIR
from ..pose import DEFAULT_BACKEND

if TYPE_CHECKING:
    from ..inference.recognizer import Recognizer

# Where the model picker looks for taught-exercise models: one folder each (`gym-gesture enroll --out`, or
# the teach tab's download unzipped).
TAUGHT_MODELS_ENV = "GYM_GESTURE_TAUGHT_DIR"
DEFAULT_TAUGHT_MODELS_DIR = Path("~/.cache/gym-gesture/taught")


def taught_models_dir() -> Path:
    """$GYM_GESTURE_TAUGHT_DIR, else ~/.cache/gym-gesture/taught."""
    return Path(os.environ.get(TAUGHT_MODELS_ENV) or DEFAULT_TAUGHT_MODELS_DIR).expanduser()


def taught_models(folder: Path) -> list[Path]:
    """The model folders (with a config.json) directly in `folder`, by name; none when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(child for child in folder.iterdir() if (child / "config.json").is_file())


def model_key(model: str | Path | None) -> str:
    """How the app names a model: a shipped checkpoint by its name (its folder given as a path too), anything
    else (a folder, a Hub id) as given; None is the default checkpoint."""
    if model is None:
        return DEFAULT_MODEL_DIR.name
    folder = Path(model)
    if folder.is_dir() and folder.resolve().parent == CHECKPOINTS_DIR.resolve():
        return folder.name
    return str(model)


class RecognizerPool:
    """The app's models by `model_key`, each with one `Recognizer` per pose backend; a model and a backend
    are each loaded once, on first use. The model the app starts with (`default_model`) is loaded at once,
    so that a bad --model fails before the server starts."""

    def __init__(self, model: str | None, max_duration: float | None, revision: str | None = None):
        self.default_model = model_key(model)
        self.max_duration = max_duration
        self._revisions = {self.default_model: revision}  # a revision is given for the start's Hub id only
        self._recognizers: dict[tuple[str, str], Recognizer] = {}
        self._lock = threading.Lock()
        self.get(DEFAULT_BACKEND)

    def choices(self) -> list[tuple[str, str]]:
        """The model picker's (label, model_key) pairs: the shipped checkpoints, the taught-exercise folders
        found now, and the model the app started with when it is neither."""
        from ..inference.recognizer import SHIPPED_MODELS

        found = [(name, name) for name in SHIPPED_MODELS]
        found += [(f"{folder.name} (taught)", str(folder)) for folder in taught_models(taught_models_dir())]
        if self.default_model not in {key for _, key in found}:
            found.insert(0, (self.default_model, self.default_model))
        return found

    def get(self, backend: str, model: str | None = None) -> Recognizer:
        """The recognizer of `model` (a `model_key`; None: the default model) on the pose `backend`."""
        from ..inference.recognizer import Recognizer
        from ..pose import create_backend

        model = model or self.default_model
        with self._lock:
            if (model, backend) not in self._recognizers:
                loaded = self._recognizers.get((model, DEFAULT_BACKEND))
                if loaded is None:
                    loaded = Recognizer.from_pretrained(model, backend=DEFAULT_BACKEND, max_duration=self.max_duration,
                                                        revision=self._revisions.get(model))
                    self._recognizers[model, DEFAULT_BACKEND] = loaded
                if backend != DEFAULT_BACKEND:
                    self._recognizers[model, backend] = Recognizer(
                        loaded.model, create_backend(backend), model_name=loaded.model_name,
                        max_duration=self.max_duration, form_model=loaded.form_model, thresholds=loaded.thresholds)
            return self._recognizers[model, backend]
