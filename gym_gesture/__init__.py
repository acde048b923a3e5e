"""gym-gesture: recognize gym exercises from video (pose estimator + Transformer fusion module).

Importing the package is cheap: the model classes (and transformers with them) load on first use, so
`gym-gesture --help` and input errors answer without importing torch or transformers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access (PEP 562).
_LAZY = {
    "GymGestureConfig": "model.configuration_gym_gesture",
    "GymGestureModel": "model.modeling_gym_gesture",
    "GymGestureForSequenceClassification": "model.modeling_gym_gesture",
    "GymGestureProcessor": "model.processing_gym_gesture",
    "Recognizer": "inference.recognizer",
}


def register_auto_classes() -> None:
    """Register the package's classes with transformers' Auto classes (AutoConfig, AutoModel,
    AutoModelForSequenceClassification, AutoProcessor), so that they load gym-gesture folders without
    remote code."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoProcessor

    from .model.configuration_gym_gesture import GymGestureConfig
    from .model.modeling_gym_gesture import GymGestureForSequenceClassification, GymGestureModel
    from .model.processing_gym_gesture import GymGestureProcessor

    AutoConfig.register(GymGestureConfig.model_type, GymGestureConfig, exist_ok=True)
    AutoModel.register(GymGestureConfig, GymGestureModel, exist_ok=True)
    AutoModelForSequenceClassification.register(GymGestureConfig, GymGestureForSequenceClassification, exist_ok=True)
    AutoProcessor.register(GymGestureConfig, GymGestureProcessor, exist_ok=True)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    register_auto_classes()
    globals()[name] = value
    return value


__all__ = ["__version__", "register_auto_classes", *_LAZY]
