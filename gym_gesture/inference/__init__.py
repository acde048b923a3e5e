"""From a clip or a stream to a prediction: loading a model folder or Hub id, the Recognizer (one clip)
and the live session (a stream)."""

from .recognizer import DEFAULT_MAX_CLIP_DURATION_S, SHIPPED_MODELS, NoPersonError, Recognizer, load_model, resolve_model_dir

__all__ = ["DEFAULT_MAX_CLIP_DURATION_S", "SHIPPED_MODELS", "NoPersonError", "Recognizer", "load_model",
           "resolve_model_dir"]
