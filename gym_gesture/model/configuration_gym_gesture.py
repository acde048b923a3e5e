"""Configuration of the gym-gesture classifier (transformers layout; imports only transformers)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import GenerationConfig, PreTrainedConfig

FUSIONS = ("transformer", "mlp", "cnn1d", "rnn", "lstm", "bilstm", "stgcn")
POOLINGS = ("mean", "max")
NORMALIZATIONS = ("hip_center_torso_scale",)
# How a 2-channel model's image plane is scaled (`image_scale`), as `skeleton.IMAGE_SCALES` (this file imports
# only transformers).
IMAGE_SCALES = ("frame_axes", "longer_side")
# What an enrolled class's prototypes are made of: "pose-spread", the windows' pose descriptors (joint
# angles, limb heights, torso direction, the horizontal spread of wrists, elbows, knees and ankles, and their
# motion; `pose_descriptor.pose_descriptor`); "pose", the same without the spreads, and "pooled", the
# trunk's pooled embedding: what models enrolled before each of those hold.
ENROLLMENT_EMBEDDINGS = ("pose-spread", "pose", "pooled")
# Keys that are not fields but that transformers itself writes into a config or passes to it; any other
# unknown key (a typo such as "d_modle", another model's setting) is refused instead of silently kept.
_TRANSFORMERS_KEYS = frozenset({
    "auto_map", "model_type", "name_or_path", "_name_or_path", "_commit_hash", "num_labels", "torch_dtype",
    "attn_implementation", "experts_implementation", "per_layer_config",
}) | frozenset(GenerationConfig().to_dict())


@strict(accept_kwargs=True)
class GymGestureConfig(PreTrainedConfig):
    r"""
    A skeleton time series classifier: per-frame joints are flattened, projected to `d_model`, fused
    over time by one of `FUSIONS`, pooled over the valid frames and classified.

    Args:
        num_frames: frames per window (T); the positional table of the transformer fusion has this length.
        num_joints, num_channels: the per-frame skeleton (J, C) in the joint layout `layout`. The channels
            are the model's input geometry: 2, the image plane (x, y normalised to the frame's width and
            height), which every pose backend and keypoint source shares; 3, the backend's own x, y, z
            (MediaPipe's relative depth: what the 7-class checkpoint was trained on).
        image_scale: how the 2-channel image plane is scaled: "longer_side", x and y in pixels over the
            frame's longer side, so a pose has the same shape in a portrait and a landscape frame;
            "frame_axes", x over the width and y over the height, as MediaPipe gives them (the default, and
            every shipped checkpoint's: the input stretches with the frame's shape).
        layout: joint layout name (`gym_gesture.model.skeleton.LAYOUTS`); inference converts poses into it.
        d_model, num_heads, num_layers, ffn_dim, dropout: sizes of the fusion module
            (for the recurrent fusions `d_model` is the hidden size, for cnn1d the channel count, for stgcn
            the width of its last blocks, `num_layers` its blocks; it has no heads or feed-forward).
        fusion: one of "transformer" (the paper's), "mlp", "cnn1d", "rnn", "lstm", "bilstm", "stgcn" (ST-GCN++).
        pooling: "mean" or "max" over the valid frames.
        sample_fps: frame rate the windows are sampled at; inference resamples clips to it.
        window_stride: frames between the starts of consecutive windows at inference.
        normalization: the per-window normalisation (`gym_gesture.model.skeleton.normalize`).
        num_prototypes, prototype_thresholds, prototype_scale: exercises enrolled from a few clips
            (`gym-gesture enroll`) without retraining: the last `len(prototype_thresholds)` labels of
            `id2label` are served by `num_prototypes` stored window embeddings instead of the linear head.
            A window's logit for an enrolled class is the top trained logit plus `prototype_scale` times
            (its cosine similarity to the class's nearest prototype minus the class's threshold) / (1 minus
            the threshold), so the enrolled class outranks the trained ones exactly where the window is
            closer to it than the threshold its own clips set, and halfway from there to a perfect match
            it has `prototype_scale` / 2 logits over them.
        enrollment_embedding: what the prototypes are (`ENROLLMENT_EMBEDDINGS`); unset, "pose-spread" (a
            model with prototypes but no such field was enrolled with "pooled"): `prototype_embedding`.
            Folders saved before the American spelling name it `enrolment_embedding`; it is read as this.
    """

    model_type = "gym_gesture"
    # transformers' common names for the sizes, so generic tools read them (config.hidden_size, ...), and a
    # field's earlier British spelling, so folders saved with it still load.
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "num_heads", "num_hidden_layers": "num_layers",
                     "intermediate_size": "ffn_dim", "enrolment_embedding": "enrollment_embedding"}

    num_frames: int = 60
    num_joints: int = 17
    num_channels: int = 3
    layout: str = "h36m17"
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 1
    ffn_dim: int = 256
    dropout: float | int = 0.1
    fusion: str = "transformer"
    pooling: str = "mean"
    sample_fps: float | int = 30.0
    window_stride: int = 15
    normalization: str = "hip_center_torso_scale"
    image_scale: str = "frame_axes"
    initializer_range: float = 0.02
    num_prototypes: int = 0
    prototype_thresholds: list[float] | None = None
    prototype_scale: float | int = 10.0
    enrollment_embedding: str | None = None

    def __post_init__(self, **kwargs):
        # Checked before the parent's post-init so that a bad value surfaces as a plain ValueError
        # naming the field, not wrapped in huggingface_hub's validation error.
        for common, own in self.attribute_map.items():
            if common in kwargs:
                setattr(self, own, kwargs.pop(common))
        unknown = sorted(set(kwargs) - _TRANSFORMERS_KEYS)
        if unknown:
            raise ValueError(f"unknown config field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                             f"(this model's own fields: {', '.join(GymGestureConfig.__annotations__)})")
        self.validate_architecture()
        super().__post_init__(**kwargs)
        if self.id2label is not None and not self.label2id:
            self.label2id = {label: index for index, label in self.id2label.items()}

    def validate_architecture(self):
        """Every error names the field at fault (also run by `@strict` validation)."""
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion={self.fusion!r} is unknown; choose one of {', '.join(FUSIONS)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling={self.pooling!r} is unknown; choose one of {', '.join(POOLINGS)}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization={self.normalization!r} is unknown; choose one of {', '.join(NORMALIZATIONS)}"
            )
        if self.image_scale not in IMAGE_SCALES:
            raise ValueError(f"image_scale={self.image_scale!r} is unknown; choose one of {', '.join(IMAGE_SCALES)}")
        if self.image_scale != "frame_axes" and self.num_channels != 2:
            raise ValueError(f"image_scale={self.image_scale!r} scales the 2-channel image plane; this model reads "
                             f"num_channels={self.num_channels} (the backend's own coordinates, as they are)")
        for field in ("num_frames", "num_joints", "num_channels", "d_model", "num_heads", "num_layers",
                      "ffn_dim", "window_stride"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field}={getattr(self, field)} must be a positive integer")
        if self.d_model % self.num_heads != 0:
            raise ValueError(f"d_model={self.d_model} must be divisible by num_heads={self.num_heads}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")
        if self.sample_fps <= 0:
            raise ValueError(f"sample_fps={self.sample_fps} must be positive")
        if self.num_prototypes < 0:
            raise ValueError(f"num_prototypes={self.num_prototypes} must not be negative")
        if bool(self.num_prototypes) != bool(self.prototype_thresholds):
            raise ValueError(f"num_prototypes={self.num_prototypes} and prototype_thresholds="
                             f"{self.prototype_thresholds}: enrolled classes need both, or neither")
        if self.prototype_scale <= 0:
            raise ValueError(f"prototype_scale={self.prototype_scale} must be positive")
        if self.enrollment_embedding not in (None, *ENROLLMENT_EMBEDDINGS):
            raise ValueError(f"enrollment_embedding={self.enrollment_embedding!r} is unknown; choose one of "
                             f"{', '.join(ENROLLMENT_EMBEDDINGS)}")

    @property
    def prototype_embedding(self) -> str:
        """What this model's enrolled classes' prototypes are, or a new enrollment's would be."""
        if self.enrollment_embedding:
            return self.enrollment_embedding
        return "pooled" if self.num_prototypes else "pose-spread"

    @property
    def num_enrolled_labels(self) -> int:
        """How many of the last labels of `id2label` are enrolled (served by prototypes)."""
        return len(self.prototype_thresholds or ())

    @property
    def num_trained_labels(self) -> int:
        """How many of the first labels of `id2label` the linear head serves."""
        return self.num_labels - self.num_enrolled_labels


GymGestureConfig.register_for_auto_class()

__all__ = ["GymGestureConfig", "ENROLLMENT_EMBEDDINGS", "FUSIONS"]
