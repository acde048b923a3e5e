"""The gym-gesture classifier: a skeleton time series in, exercise logits out (transformers layout).

`GymGestureModel` (the trunk, `base_model_prefix` "model"): keypoints (B, T, J, C) -> flatten joints
per frame -> linear projection to d_model -> fusion over time -> pooling over the valid frames.
`GymGestureForSequenceClassification`: the trunk (`self.model`) and a linear head over `config.id2label`
(and, for exercises enrolled from a few clips, a `PrototypeHead` beside it). The "transformer" fusion is the
paper's: sinusoidal positional encoding, multi-head attention, Add&Norm, FFN, Add&Norm. The paper's baselines
(mlp, cnn1d, rnn, lstm, bilstm) are the same model with another fusion, so they are trained, saved and loaded
alike. The "stgcn" fusion (ST-GCN++, the skeleton-recognition baseline) reads the joints unflattened, over
the skeleton graph of the config's layout.

Self-contained: imports only torch, transformers, its configuration file, `skeleton.py` (the layouts' bones)
and `pose_descriptor.py` (what enrolled classes are recognized by), so that
`AutoModelForSequenceClassification.from_pretrained(..., trust_remote_code=True)` (and `AutoModel`, for the
trunk) loads it from a folder or the Hub. The processor that makes its inputs is saved beside it by whoever
writes the folder (`processor.save_pretrained`), as for any transformers model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput

from .configuration_gym_gesture import GymGestureConfig
from .pose_descriptor import POSE_DESCRIPTOR_DIM, pose_descriptor
from .skeleton import graph_partitions

# Every Auto class a saved folder answers to, written into its config.json whichever class saved it.
AUTO_MAP = {
    "AutoConfig": "configuration_gym_gesture.GymGestureConfig",
    "AutoModel": "modeling_gym_gesture.GymGestureModel",
    "AutoModelForSequenceClassification": "modeling_gym_gesture.GymGestureForSequenceClassification",
}
# Folders saved before the classifier's trunk was `model` name its weights `gym_gesture.*`: renamed on
# loading (transformers' checkpoint conversion mapping, by model_type, for every class of this model).
register_checkpoint_conversion_mapping(
    GymGestureConfig.model_type, [WeightRenaming(r"^gym_gesture\.", "model.")], overwrite=True)


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed positional encoding of "Attention is all you need": sin on even, cos on odd channels."""
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class Dropout(nn.Dropout):
    """`nn.Dropout`, not called at all in eval, where it is the identity: the module call itself costs about
    3 microseconds, and the transformer's dropouts together about 5% of a window at batch 1."""

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        return super().__call__(hidden) if self.training else hidden


class SinusoidalPositionalEncoding(nn.Module):
    def __init__(self, num_positions: int, dim: int):
        super().__init__()
        # Not persistent: derived from the config, so it is not saved; `_init_weights` refills it when
        # from_pretrained builds the model on the meta device.
        self.register_buffer("table", sinusoidal_table(num_positions, dim), persistent=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.shape[1] > self.table.shape[0]:
            raise ValueError(f"sequence of {hidden.shape[1]} frames is longer than num_frames={self.table.shape[0]}")
        return hidden + self.table[: hidden.shape[1]]


class SelfAttention(nn.Module):
    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(self, hidden: torch.Tensor, key_mask: torch.Tensor | None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The attended frames and, when asked, the attention weights (B, heads, T, T). `key_mask`
        (B, 1, 1, T): the frames that may be attended to, None for all."""
        batch, frames, dim = hidden.shape
        heads = self.qkv(hidden).view(batch, frames, 3, self.num_heads, dim // self.num_heads)
        q, k, v = heads.permute(2, 0, 3, 1, 4).unbind(0)
        # Padded frames are never attended to; every sequence has at least one valid frame. No dropout on
        # the attention weights (it about doubles the attention's cost on CPU): the block's outputs have it.
        if output_attentions:  # the fused kernel does not return its weights: the same product, spelled out
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if key_mask is not None:
                scores = scores.masked_fill(~key_mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            attended = weights @ v
        else:
            weights = None
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        return self.out(attended.transpose(1, 2).reshape(batch, frames, dim)), weights


class FeedForward(nn.Sequential):
    def __init__(self, config: GymGestureConfig):
        super().__init__(
            nn.Linear(config.d_model, config.ffn_dim),
            nn.GELU(),
            Dropout(config.dropout),
            nn.Linear(config.ffn_dim, config.d_model),
        )


class FusionOutput(NamedTuple):
    """What a fusion returns: the fused frames (B, T, d_model); with `output_hidden_states`, the frames
    before and after each layer; with `output_attentions`, each layer's attention weights."""

    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class TransformerBlock(nn.Module):
    """Multi-head attention, Add&Norm, FFN, Add&Norm (post-norm, as in the paper)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.d_model)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.d_model)
        self.dropout = Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, key_mask: torch.Tensor | None,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden, key_mask, output_attentions)
        hidden = self.attention_norm(hidden + self.dropout(attended))
        return self.ffn_norm(hidden + self.dropout(self.ffn(hidden))), weights


class TransformerFusion(nn.Module):
    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.positional_encoding = SinusoidalPositionalEncoding(config.num_frames, config.d_model)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False,
                output_attentions: bool = False) -> FusionOutput:
        hidden = self.dropout(self.positional_encoding(hidden))
        # Without padding no mask: the attention's kernel is then faster (most windows have none).
        key_mask = None if mask.all() else mask[:, None, None, :]
        states, attentions = [hidden], []
        for block in self.blocks:
            hidden, weights = block(hidden, key_mask, output_attentions)
            states.append(hidden)
            attentions.append(weights)
        return FusionOutput(hidden, tuple(states) if output_hidden_states else None,
                            tuple(attentions) if output_attentions else None)


class MLPFusion(nn.Module):
    """Per-frame residual MLP blocks: sees poses, not their order (pooling does the rest)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.blocks = nn.ModuleList(FeedForward(config) for _ in range(config.num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.num_layers))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False,
                output_attentions: bool = False) -> FusionOutput:
        states = [hidden]
        for block, norm in zip(self.blocks, self.norms):
            hidden = norm(hidden + block(hidden))
            states.append(hidden)
        return FusionOutput(hidden, tuple(states) if output_hidden_states else None)


class Conv1dFusion(nn.Module):
    """Residual temporal convolutions (kernel 5, 'same' padding)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(config.d_model, config.d_model, kernel_size=5, padding=2) for _ in range(config.num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.num_layers))
        self.dropout = Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False,
                output_attentions: bool = False) -> FusionOutput:
        states = [hidden]
        for conv, norm in zip(self.convs, self.norms):
            # Zeroing padded frames before each convolution makes them look exactly like the
            # convolution's own zero padding: a padded sequence gives the same result as alone.
            hidden = hidden.masked_fill(~mask[..., None], 0.0)
            hidden = norm(hidden + self.dropout(F.gelu(conv(hidden.transpose(1, 2)).transpose(1, 2))))
            states.append(hidden)
        return FusionOutput(hidden, tuple(states) if output_hidden_states else None)


class RecurrentFusion(nn.Module):
    """RNN, LSTM or bidirectional LSTM over the valid frames (padding must trail the valid frames)."""

    CELLS = {"rnn": (nn.RNN, False), "lstm": (nn.LSTM, False), "bilstm": (nn.LSTM, True)}

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        cell, bidirectional = self.CELLS[config.fusion]
        self.recurrent = cell(
            config.d_model,
            config.d_model // 2 if bidirectional else config.d_model,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False,
                output_attentions: bool = False) -> FusionOutput:
        lengths = mask.sum(dim=1)
        if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device)[None] < lengths[:, None]):
            raise ValueError("recurrent fusions need attention_mask with the valid frames first, padding after")
        packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.recurrent(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=hidden.shape[1])
        return FusionOutput(output, (hidden, output) if output_hidden_states else None)


class GraphConvolution(nn.Module):
    """ST-GCN++'s spatial unit (pyskl `unit_gcn`, adaptive "init", with residual): a 1x1 convolution per
    partition of the skeleton graph, each partition's adjacency learned from its initial value, BN, ReLU.
    Acts within each frame: a masked frame never reaches a valid one here."""

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor):
        super().__init__()
        self.adjacency = nn.Parameter(partitions.clone())
        self.conv = nn.Conv2d(in_channels, out_channels * len(partitions), 1)
        self.norm = nn.BatchNorm2d(out_channels)
        self.residual = (nn.Identity() if in_channels == out_channels else
                         nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, V)
        batch, _, frames, joints = x.shape
        per_partition = self.conv(x).view(batch, len(self.adjacency), -1, frames, joints)
        gathered = torch.einsum("bkctv,kvw->bctw", per_partition, self.adjacency)
        return F.relu(self.norm(gathered) + self.residual(x))


class MultiScaleTemporalConvolution(nn.Module):
    """ST-GCN++'s temporal unit (pyskl `mstcn`): six branches over a share of the channels each (four
    kernel-3 convolutions of dilation 1 to 4 and a kernel-3 max pool, each after a 1x1 convolution, BN and
    ReLU; a 1x1 convolution), concatenated, BN, ReLU, 1x1, BN.

    Masked frames are zeroed right before each operation across time: a zero looks like the convolution's
    own padding, and after a ReLU it never wins a max, so a padded sequence gives the result it gives alone."""

    DILATIONS = (1, 2, 3, 4)

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        branches = len(self.DILATIONS) + 2
        share = channels // branches
        self.widths = [channels - share * (branches - 1)] + [share] * (branches - 1)
        # The 1x1 convolutions and BNs that open the five branches across time, as one convolution and
        # one BN (the same function, per output channel) and the 1x1 branch: one call instead of six.
        self.reduce = nn.Conv2d(channels, channels, 1)
        self.reduce_norm = nn.BatchNorm2d(channels - self.widths[-1])
        self.dilated = nn.ModuleList(nn.Conv2d(width, width, (3, 1), padding=(dilation, 0), dilation=(dilation, 1))
                                     for width, dilation in zip(self.widths, self.DILATIONS))
        self.transform = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1),
                                       nn.BatchNorm2d(channels), Dropout(dropout))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:  # keep: (B, 1, T, 1)
        reduced = self.reduce(x)
        across_time, pointwise = reduced.split([reduced.shape[1] - self.widths[-1], self.widths[-1]], dim=1)
        branches = (F.relu(self.reduce_norm(across_time)) * keep).split(self.widths[:-1], dim=1)
        outputs = [conv(branch) for conv, branch in zip(self.dilated, branches)]
        outputs += [F.max_pool2d(branches[-1], (3, 1), stride=1, padding=(1, 0)), pointwise]
        return self.transform(torch.cat(outputs, dim=1))


class SpatialTemporalBlock(nn.Module):
    """Graph convolution, then multi-scale temporal convolution, a residual around both, ReLU (pyskl
    `STGCNBlock`, stride 1)."""

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor, dropout: float,
                 residual: bool = True):
        super().__init__()
        self.spatial = GraphConvolution(in_channels, out_channels, partitions)
        self.temporal = MultiScaleTemporalConvolution(out_channels, dropout)
        self.residual = (None if not residual else nn.Identity() if in_channels == out_channels else
                         nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        fused = self.temporal(self.spatial(x) * keep, keep)
        return F.relu(fused if self.residual is None else fused + self.residual(x))


class SpatialTemporalGraphFusion(nn.Module):
    """ST-GCN++ (Duan et al., "PYSKL", 2022), the joint stream: per-joint features over the skeleton graph of
    `config.layout` (`skeleton.graph_partitions`). It reads the joints, not flattened frames (`takes_joints`).

    Widths follow pyskl's 64-128-256 over 10 blocks: the blocks fall into three stages of 1/4, 1/2 and all
    of `d_model` (the last stage is `d_model` whatever `num_layers`); `d_model=256, num_layers=10` is
    pyskl's network. No temporal stride (pyskl's halves the frames twice): every block keeps one output per
    frame, like the other fusions, and windows here are 30 frames, not 100. The frames' joints are averaged
    into the fused frames (B, T, d_model), which the trunk pools over the valid frames as pyskl's head does."""

    takes_joints = True

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        partitions = torch.from_numpy(graph_partitions(config.layout))
        stages = [3 * block // config.num_layers for block in range(config.num_layers)]
        widths = [max(1, config.d_model >> (stages[-1] - stage)) for stage in stages]
        self.input_norm = nn.BatchNorm1d(config.num_joints * config.num_channels)
        self.blocks = nn.ModuleList(
            SpatialTemporalBlock(width_in, width, partitions, config.dropout, residual=block > 0)
            for block, (width_in, width) in enumerate(zip([config.num_channels, *widths], widths))
        )

    def forward(self, joints: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False,
                output_attentions: bool = False) -> FusionOutput:
        batch, frames, count, channels = joints.shape
        keep = mask[:, None, :, None].to(joints.dtype)
        # pyskl's data BN: each joint's coordinate normalized on its own (masked frames zero, as pyskl pads).
        flat = (joints * keep.view(batch, frames, 1, 1)).reshape(batch, frames, count * channels)
        normalized = self.input_norm(flat.transpose(1, 2)).reshape(batch, count, channels, frames)
        x = normalized.permute(0, 2, 3, 1) * keep  # (B, C, T, V)
        states = [x.mean(dim=3).transpose(1, 2)]
        for block in self.blocks:
            x = block(x, keep) * keep
            states.append(x.mean(dim=3).transpose(1, 2))
        return FusionOutput(states[-1], tuple(states) if output_hidden_states else None)


FUSION_MODULES: dict[str, type[nn.Module]] = {
    "transformer": TransformerFusion,
    "mlp": MLPFusion,
    "cnn1d": Conv1dFusion,
    "rnn": RecurrentFusion,
    "lstm": RecurrentFusion,
    "bilstm": RecurrentFusion,
    "stgcn": SpatialTemporalGraphFusion,
}


def prototype_dim(config: GymGestureConfig) -> int:
    """The length of a prototype: the pose descriptor's or the pooled embedding's (`config.prototype_embedding`)."""
    return POSE_DESCRIPTOR_DIM.get(config.prototype_embedding, config.d_model)


class PrototypeHead(nn.Module):
    """Enrolled classes (`gym-gesture enroll`): window embeddings kept as prototypes, no weights trained.

    `prototypes` (P, `prototype_dim`) are the unit-length enrollment embeddings of the enrolled clips'
    windows (`GymGestureForSequenceClassification.enrollment_embeddings`: their pose descriptors, or for
    older enrollments the trunk's pooler_output) and `prototype_classes` (P,) says which enrolled class (0
    for the first) each belongs to; both are persistent buffers, so they are saved in model.safetensors
    beside the weights. A window's similarity to a class is its cosine similarity to the class's nearest
    prototype."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.num_classes = config.num_enrolled_labels
        self.register_buffer("prototypes", torch.zeros(config.num_prototypes, prototype_dim(config)))
        self.register_buffer("prototype_classes", torch.zeros(config.num_prototypes, dtype=torch.long))
        self.register_buffer("thresholds", torch.tensor(config.prototype_thresholds, dtype=torch.float32),
                             persistent=False)
        self.scale = float(config.prototype_scale)

    def similarity(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, enrolled classes): each window's cosine similarity to each class's nearest prototype, from the
        windows' unit-length enrollment embeddings (B, `prototype_dim`)."""
        cosine = embeddings @ self.prototypes.T
        nearest = torch.full((len(embeddings), self.num_classes), -1.0, device=embeddings.device)
        return nearest.scatter_reduce(1, self.prototype_classes.expand(len(embeddings), -1), cosine, reduce="amax")

    def logits(self, trained_logits: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
        """Enrolled classes' logits on the trained head's scale: the top trained logit, raised or lowered by
        how far the similarity is above or below the class's threshold, in units of the threshold's distance
        from a perfect match (1), so that one scale fits thresholds of 0.7 and of 0.99 alike."""
        top = trained_logits.amax(dim=-1, keepdim=True)
        margin = (similarity - self.thresholds) / (1 - self.thresholds).clamp(min=1e-3)
        return top + self.scale * margin.to(trained_logits.dtype)


@dataclass
class GymGestureClassifierOutput(SequenceClassifierOutput):
    """`SequenceClassifierOutput` and, for a model with enrolled classes, `prototype_similarity` (B, enrolled
    classes): each window's cosine similarity to each enrolled class's nearest prototype."""

    prototype_similarity: torch.Tensor | None = None


def prepare_inputs(config: GymGestureConfig, keypoints: torch.Tensor,
                   attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The model's inputs checked against `config` (see `GymGestureModel`): keypoints (B, T, J, C), zero in
    masked frames that held NaN or inf; the mask (B, T) bool; and whether every frame is valid. Raises
    ValueError naming what is wrong. Read by the trunk and by the pose descriptors of enrolled classes."""
    joints, channels = config.num_joints, config.num_channels
    if keypoints.dim() == 3 and keypoints.shape[2] == joints * channels:
        keypoints = keypoints.unflatten(2, (joints, channels))
    elif keypoints.dim() != 4 or keypoints.shape[2:] != (joints, channels):
        raise ValueError(
            f"keypoints must be (batch, frames, {joints}, {channels}) or (batch, frames, {joints * channels}) "
            f"in layout {config.layout!r}, got {tuple(keypoints.shape)}"
        )
    batch, frames = keypoints.shape[:2]
    if batch == 0 or frames == 0:
        raise ValueError(f"empty input: keypoints of shape {tuple(keypoints.shape)}")
    if attention_mask is None:
        mask = torch.ones(batch, frames, dtype=torch.bool, device=keypoints.device)
    elif attention_mask.shape != (batch, frames):
        raise ValueError(f"attention_mask must be (batch, frames) = {(batch, frames)}, got {tuple(attention_mask.shape)}")
    else:
        mask = attention_mask.to(device=keypoints.device, dtype=torch.bool)
    # The checks of the common case (no padding, no NaN) are one reduction each: at batch 1 they cost
    # about as much as a layer.
    all_valid = bool(mask.all())
    if not all_valid and not mask.any(dim=1).all():
        raise ValueError("a sequence has no valid frame (attention_mask is all zeros)")
    if not torch.isfinite(keypoints).all():
        finite = torch.isfinite(keypoints).flatten(2).all(dim=2)
        if not (finite | ~mask).all():
            raise ValueError("keypoints contain NaN or inf in valid frames: set attention_mask=0 for missing frames")
        keypoints = keypoints.masked_fill(~finite[..., None, None], 0.0)
    return keypoints, mask, all_valid


class GymGesturePreTrainedModel(PreTrainedModel):
    config_class = GymGestureConfig
    base_model_prefix = "model"
    main_input_name = "keypoints"

    def save_pretrained(self, save_directory, *args, save_original_format: bool = False, **kwargs):
        """Writes every Auto class of `AUTO_MAP` into the config, so that a saved folder loads with any of
        them; and the weights under their current names (transformers' default, `save_original_format=True`,
        would write the weights of a folder loaded with renamed keys back under their old names)."""
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **AUTO_MAP}
        super().save_pretrained(save_directory, *args, save_original_format=save_original_format, **kwargs)

    def _output_options(self, output_hidden_states: bool | None, output_attentions: bool | None,
                        return_dict: bool | None) -> tuple[bool, bool, bool]:
        """`forward`'s output options, the config's where not given."""
        config = self.config
        return (config.output_hidden_states if output_hidden_states is None else output_hidden_states,
                config.output_attentions if output_attentions is None else output_attentions,
                config.return_dict if return_dict is None else return_dict)

    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        if isinstance(module, SinusoidalPositionalEncoding):
            init.copy_(module.table, sinusoidal_table(*module.table.shape))
        elif isinstance(module, PrototypeHead):  # a non-persistent buffer, derived from the config
            init.copy_(module.thresholds, torch.tensor(self.config.prototype_thresholds, dtype=torch.float32))
        elif isinstance(module, (nn.RNN, nn.GRU)):  # the parent covers nn.LSTM only
            for name, parameter in module.named_parameters():
                if "weight" in name:
                    init.xavier_uniform_(parameter)
                else:
                    init.zeros_(parameter)


class GymGestureModel(GymGesturePreTrainedModel):
    """The trunk: per-frame joints projected to `d_model`, fused over time, pooled over the valid frames.

    Args of `forward`:
        keypoints: (B, T, J, C) or (B, T, J*C) float, in `config.layout`, normalized as in
            `config.normalization` (`GymGestureProcessor` makes them); T <= config.num_frames.
        attention_mask: (B, T), 1 for valid frames and 0 for padding or missing frames. Frames masked out
            may hold NaN (they are ignored); a NaN in a valid frame is an error. Defaults to all valid.
        output_hidden_states: also return the frames before and after each fusion layer.
        output_attentions: also return each layer's attention weights (the transformer fusion only).
        return_dict: a `BaseModelOutputWithPooling` (default) or a plain tuple.
    Returns `last_hidden_state` (B, T, d_model) and `pooler_output` (B, d_model), the clip embedding.
    """

    def __init__(self, config: GymGestureConfig, initialize: bool = True):
        super().__init__(config)
        fusion = FUSION_MODULES[config.fusion]
        # A fusion over frames gets each frame's joints flattened and projected; one over the skeleton
        # graph (`takes_joints`) gets the joints themselves.
        self.input_projection = (None if getattr(fusion, "takes_joints", False) else
                                 nn.Linear(config.num_joints * config.num_channels, config.d_model))
        self.fusion = fusion(config)
        self.pooling = config.pooling  # read per call; a config attribute costs a lookup through its attribute map
        if initialize:
            self.post_init()

    def forward(
        self,
        keypoints: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        output_hidden_states, output_attentions, return_dict = self._output_options(
            output_hidden_states, output_attentions, return_dict)
        if output_attentions and self.config.fusion != "transformer":
            raise ValueError(f"output_attentions: the {self.config.fusion!r} fusion has no attention weights")
        keypoints, mask, all_valid = prepare_inputs(self.config, keypoints, attention_mask)
        keypoints = keypoints.to(self.dtype)
        inputs = keypoints if self.input_projection is None else self.input_projection(keypoints.flatten(2))
        fused = self.fusion(inputs, mask, output_hidden_states, output_attentions)
        hidden, valid = fused.last_hidden_state, mask[..., None]
        if all_valid:
            pooled = hidden.mean(dim=1) if self.pooling == "mean" else hidden.amax(dim=1)
        elif self.pooling == "mean":
            pooled = hidden.masked_fill(~valid, 0.0).sum(dim=1) / valid.sum(dim=1)
        else:
            pooled = hidden.masked_fill(~valid, float("-inf")).amax(dim=1)
        if not return_dict:
            return tuple(value for value in (hidden, pooled, fused.hidden_states, fused.attentions) if value is not None)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled,
                                          hidden_states=fused.hidden_states, attentions=fused.attentions)


class GymGestureForSequenceClassification(GymGesturePreTrainedModel):
    """Classifies windows of skeleton frames into `config.id2label`: `GymGestureModel` (`self.model`) and a
    linear head.

    Args of `forward`: those of `GymGestureModel.forward`, and
        labels: (B,) class ids (single-label classification: cross-entropy), (B, num_labels) multi-hot
            floats (multi-label: binary cross-entropy) or (B,) floats with one label (regression: mean
            squared error); `config.problem_type` says which, inferred from the labels when unset
            (`self.loss_function`, transformers' loss of sequence classifiers).
    Returns a `GymGestureClassifierOutput` (loss, logits, hidden_states, attentions, and for enrolled classes
    prototype_similarity) or, with `return_dict=False`, the tuple of its non-empty fields. Enrolled classes
    (`config.prototype_thresholds`) are the last labels: their logits come from the `PrototypeHead`.
    """

    def __init__(self, config: GymGestureConfig):
        super().__init__(config)
        # Initialised once, by this model's post_init, in creation order: a seed gives the same weights as
        # before the trunk was split out, so the shipped recipe still retrains to the same checkpoint.
        self.model = GymGestureModel(config, initialize=False)
        self.dropout = Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, config.num_trained_labels)
        self.prototype_head = PrototypeHead(config) if config.num_enrolled_labels else None
        self.post_init()

    def forward(
        self,
        keypoints: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        output_hidden_states, output_attentions, return_dict = self._output_options(
            output_hidden_states, output_attentions, return_dict)
        outputs = self.model(keypoints, attention_mask, output_hidden_states=output_hidden_states,
                             output_attentions=output_attentions, return_dict=True)
        pooled = outputs.pooler_output
        logits = self.classifier(self.dropout(pooled))
        similarity = None
        if self.prototype_head is not None:
            similarity = self.prototype_head.similarity(self.enrollment_embeddings(keypoints, attention_mask, pooled))
            logits = torch.cat([logits, self.prototype_head.logits(logits, similarity)], dim=-1)
        loss = self.loss_function(labels, logits, self.config) if labels is not None else None
        if not return_dict:
            return tuple(value for value in (loss, logits, outputs.hidden_states, outputs.attentions, similarity)
                         if value is not None)
        return GymGestureClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                          attentions=outputs.attentions, prototype_similarity=similarity)

    def enrollment_embeddings(self, keypoints: torch.Tensor, attention_mask: torch.Tensor | None = None,
                             pooled: torch.Tensor | None = None) -> torch.Tensor:
        """(B, `prototype_dim`) unit-length embeddings of windows that enrolled classes are recognized by
        (`config.prototype_embedding`): the windows' pose descriptors, or the trunk's pooled output (`pooled`
        when the caller has it)."""
        if self.config.prototype_embedding in POSE_DESCRIPTOR_DIM:
            keypoints, mask, _ = prepare_inputs(self.config, keypoints, attention_mask)
            return pose_descriptor(keypoints, mask, self.config.layout, embedding=self.config.prototype_embedding)
        if pooled is None:
            pooled = self.model(keypoints, attention_mask, output_hidden_states=False, output_attentions=False,
                                return_dict=True).pooler_output
        return F.normalize(pooled.float(), dim=-1)


GymGestureModel.register_for_auto_class("AutoModel")
GymGestureForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")

__all__ = ["AUTO_MAP", "FUSION_MODULES", "GymGestureClassifierOutput", "GymGestureForSequenceClassification",
           "GymGestureModel", "GymGesturePreTrainedModel", "PrototypeHead", "prepare_inputs", "prototype_dim"]
