"""gym-gesture: recognise gym exercises from video (pose estimator + Transformer fusion module)."""

from transformers import AutoConfig, AutoModel

from .configuration_gym_gesture import GymGestureConfig
from .modeling_gym_gesture import GymGestureForSequenceClassification

__version__ = "0.1.0"

# Local registration: with gym_gesture imported, AutoModel loads our checkpoints without remote code.
AutoConfig.register(GymGestureConfig.model_type, GymGestureConfig, exist_ok=True)
AutoModel.register(GymGestureConfig, GymGestureForSequenceClassification, exist_ok=True)

__all__ = ["GymGestureConfig", "GymGestureForSequenceClassification", "__version__"]
