"""gym-gesture: recognise gym exercises from video (pose estimator + Transformer fusion module)."""

__version__ = "0.1.0"
