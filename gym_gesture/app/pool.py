"""The app's models: one per pose backend over a single set of weights, shared by the app's tabs."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..inference.recognizer import Recognizer


class RecognizerPool:
    """One model shared by one `Recognizer` per pose backend, each backend created once, on first use."""

    def __init__(self, model: str | None, max_duration: float | None, revision: str | None = None):
        from ..inference.recognizer import Recognizer

        first = Recognizer.from_pretrained(model, backend="mediapipe", max_duration=max_duration, revision=revision)
        self.model_name = first.model_name
        self.max_duration = max_duration
        self._recognizers = {"mediapipe": first}
        self._lock = threading.Lock()

    def get(self, backend: str) -> Recognizer:
        from ..inference.recognizer import Recognizer
        from ..pose import create_backend

        with self._lock:
            if backend not in self._recognizers:
                first = self._recognizers["mediapipe"]
                self._recognizers[backend] = Recognizer(first.model, create_backend(backend),
                                                        model_name=self.model_name,
                                                        max_duration=self.max_duration,
                                                        form_model=first.form_model,
                                                        thresholds=first.thresholds)
            return self._recognizers[backend]
