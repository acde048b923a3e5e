"""The gym-gesture classifier: a skeleton time series in, exercise logits out (transformers layout).

keypoints (B, T, J, C) -> flatten joints per frame -> linear projection to d_model -> fusion over time
-> pooling over the valid frames -> linear head. The "transformer" fusion is the paper's: sinusoidal
positional encoding, multi-head attention, Add&Norm, FFN, Add&Norm. The paper's baselines (mlp, cnn1d,
rnn, lstm, bilstm) are the same model with another fusion, so they are trained, saved and loaded alike.

Self-contained: imports only torch, transformers and its configuration file, so that
`AutoModel.from_pretrained(..., trust_remote_code=True)` loads it from a folder or the Hub.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_gym_gesture import GymGestureConfig


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed positional encoding of "Attention is all you need": sin on even, cos on odd channels."""
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


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

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, frames, dim = hidden.shape
        q, k, v = self.qkv(hidden).view(batch, frames, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        # Padded frames are never attended to; every sequence has at least one valid frame. No dropout on
        # the attention weights (it about doubles the attention's cost on CPU): the block's outputs have it.
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return self.out(attended.transpose(1, 2).reshape(batch, frames, dim))


class FeedForward(nn.Sequential):
    def __init__(self, config: GymGestureConfig):
        super().__init__(
            nn.Linear(config.d_model, config.ffn_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.ffn_dim, config.d_model),
        )


class TransformerBlock(nn.Module):
    """Multi-head attention, Add&Norm, FFN, Add&Norm (post-norm, as in the paper)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.d_model)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.attention_norm(hidden + self.dropout(self.attention(hidden, mask)))
        return self.ffn_norm(hidden + self.dropout(self.ffn(hidden)))


class TransformerFusion(nn.Module):
    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.positional_encoding = SinusoidalPositionalEncoding(config.num_frames, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(self.positional_encoding(hidden))
        for block in self.blocks:
            hidden = block(hidden, mask)
        return hidden


class MLPFusion(nn.Module):
    """Per-frame residual MLP blocks: sees poses, not their order (pooling does the rest)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.blocks = nn.ModuleList(FeedForward(config) for _ in range(config.num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.num_layers))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for block, norm in zip(self.blocks, self.norms):
            hidden = norm(hidden + block(hidden))
        return hidden


class Conv1dFusion(nn.Module):
    """Residual temporal convolutions (kernel 5, 'same' padding)."""

    def __init__(self, config: GymGestureConfig):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(config.d_model, config.d_model, kernel_size=5, padding=2) for _ in range(config.num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(config.d_model) for _ in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            # Zeroing padded frames before each convolution makes them look exactly like the
            # convolution's own zero padding: a padded sequence gives the same result as alone.
            hidden = hidden.masked_fill(~mask[..., None], 0.0)
            hidden = norm(hidden + self.dropout(F.gelu(conv(hidden.transpose(1, 2)).transpose(1, 2))))
        return hidden


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

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1)
        if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device)[None] < lengths[:, None]):
            raise ValueError("recurrent fusions need attention_mask with the valid frames first, padding after")
        packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = self.recurrent(packed)
        output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=hidden.shape[1])
        return output


FUSION_MODULES: dict[str, type[nn.Module]] = {
    "transformer": TransformerFusion,
    "mlp": MLPFusion,
    "cnn1d": Conv1dFusion,
    "rnn": RecurrentFusion,
    "lstm": RecurrentFusion,
    "bilstm": RecurrentFusion,
}


class GymGesturePreTrainedModel(PreTrainedModel):
    config_class = GymGestureConfig
    base_model_prefix = "gym_gesture"
    main_input_name = "keypoints"

    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        if isinstance(module, SinusoidalPositionalEncoding):
            init.copy_(module.table, sinusoidal_table(*module.table.shape))
        elif isinstance(module, (nn.RNN, nn.GRU)):  # the parent covers nn.LSTM only
            for name, parameter in module.named_parameters():
                if "weight" in name:
                    init.xavier_uniform_(parameter)
                else:
                    init.zeros_(parameter)


class GymGestureForSequenceClassification(GymGesturePreTrainedModel):
    """Classifies windows of skeleton frames into `config.id2label`.

    Args of `forward`:
        keypoints: (B, T, J, C) or (B, T, J*C) float, in `config.layout`, normalised as in
            `config.normalization`; T <= config.num_frames.
        attention_mask: (B, T), 1 for valid frames and 0 for padding or missing frames. Frames masked out
            may hold NaN (they are ignored); a NaN in a valid frame is an error. Defaults to all valid.
        labels: (B,) class ids, for the cross-entropy loss.
    """

    def __init__(self, config: GymGestureConfig):
        super().__init__(config)
        self.input_projection = nn.Linear(config.num_joints * config.num_channels, config.d_model)
        self.fusion = FUSION_MODULES[config.fusion](config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, config.num_labels)
        self.post_init()

    def _check_inputs(self, keypoints: torch.Tensor, attention_mask: torch.Tensor | None):
        config = self.config
        joints, channels = config.num_joints, config.num_channels
        if keypoints.dim() == 4 and keypoints.shape[2:] == (joints, channels):
            keypoints = keypoints.flatten(2)
        elif keypoints.dim() != 3 or keypoints.shape[2] != joints * channels:
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
        if not mask.any(dim=1).all():
            raise ValueError("a sequence has no valid frame (attention_mask is all zeros)")
        finite = torch.isfinite(keypoints).all(dim=2)
        if not finite[mask].all():
            raise ValueError("keypoints contain NaN or inf in valid frames: set attention_mask=0 for missing frames")
        return keypoints.masked_fill(~finite[..., None], 0.0), mask

    def forward(
        self,
        keypoints: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        keypoints, mask = self._check_inputs(keypoints, attention_mask)
        hidden = self.fusion(self.input_projection(keypoints.to(self.dtype)), mask)
        valid = mask[..., None]
        if self.config.pooling == "mean":
            pooled = hidden.masked_fill(~valid, 0.0).sum(dim=1) / valid.sum(dim=1)
        else:
            pooled = hidden.masked_fill(~valid, float("-inf")).amax(dim=1)
        logits = self.classifier(self.dropout(pooled))
        loss = F.cross_entropy(logits, labels.to(logits.device)) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


GymGestureForSequenceClassification.register_for_auto_class("AutoModel")

__all__ = ["GymGestureForSequenceClassification", "GymGesturePreTrainedModel", "FUSION_MODULES"]
