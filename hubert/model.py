"""HuBERT-Soft network with the parameter names of bshall/hubert's checkpoint; sizes are arguments."""
import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride) of the 7 waveform convolutions: 400-sample receptive field, 320-sample hop.
CONV_LAYOUT = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
HEAD_WIDTH = 64  # HuBERT-Base: 768 wide, 12 heads


def receptive_field():
    """Samples one output frame sees (400 for CONV_LAYOUT)."""
    span, jump = 1, 1
    for kernel, stride in CONV_LAYOUT:
        span += (kernel - 1) * jump
        jump *= stride
    return span


class FeatureExtractor(nn.Module):
    """Waveform [B, 1, T] -> [B, C, frames]; per-channel group norm after the first conv only."""

    def __init__(self, channels):
        super().__init__()
        in_ch = 1
        for i, (kernel, stride) in enumerate(CONV_LAYOUT):
            setattr(self, f"conv{i}", nn.Conv1d(in_ch, channels, kernel, stride, bias=False))
            in_ch = channels
        self.norm0 = nn.GroupNorm(channels, channels)

    def forward(self, x):
        x = F.gelu(self.norm0(self.conv0(x)))
        for i in range(1, len(CONV_LAYOUT)):
            x = F.gelu(getattr(self, f"conv{i}")(x))
        return x


class FeatureProjection(nn.Module):
    def __init__(self, channels, width):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.projection = nn.Linear(channels, width)

    def forward(self, x):  # [B, frames, C] -> [B, frames, width]
        return self.projection(self.norm(x))


class WeightNormConv1d(nn.Module):
    """Conv1d whose weight is g * v / |v|, the norm taken per kernel tap (weight norm with dim=2).

    Parameters are stored as weight_g [1, 1, K] / weight_v [out, in / groups, K], the legacy
    torch weight-norm names the public checkpoint uses.
    """

    def __init__(self, width, kernel, groups):
        super().__init__()
        self.groups = groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.randn(width, width // groups, kernel) * 0.02)
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x):  # [B, C, T] -> [B, C, T + 1] (even kernel, kernel // 2 padding)
        v = self.weight_v
        norm = v.float().pow(2).sum(dim=(0, 1), keepdim=True).sqrt().to(v.dtype)
        weight = self.weight_g * v / norm
        return F.conv1d(x, weight.to(x.dtype), self.bias.to(x.dtype), padding=v.shape[-1] // 2, groups=self.groups)


class PositionalConvEmbedding(nn.Module):
    def __init__(self, width, kernel, groups):
        super().__init__()
        if kernel % 2:
            raise ValueError(f"positional conv kernel {kernel} must be even")
        self.conv = WeightNormConv1d(width, kernel, groups)

    def forward(self, x):  # [B, T, C] -> [B, T, C]
        y = self.conv(x.transpose(1, 2))
        return F.gelu(y[:, :, :-1]).transpose(1, 2)  # an even kernel gives one extra step


class TransformerStack(nn.Module):
    def __init__(self, width, heads, ffn, n_layers):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, ffn, dropout=0.0, activation="gelu", batch_first=True)
            for _ in range(n_layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class HubertSoftNet(nn.Module):
    """waveform [B, 1, T] (already padded) -> soft units [B, frames, units]."""

    def __init__(self, conv_channels=512, width=768, ffn=3072, n_layers=12, pos_kernel=128,
                 pos_groups=16, units=256, n_labels=100):
        super().__init__()
        heads = max(1, width // HEAD_WIDTH) if width % HEAD_WIDTH == 0 else 1
        self.feature_extractor = FeatureExtractor(conv_channels)
        self.feature_projection = FeatureProjection(conv_channels, width)
        self.positional_embedding = PositionalConvEmbedding(width, pos_kernel, pos_groups)
        self.norm = nn.LayerNorm(width)
        self.encoder = TransformerStack(width, heads, ffn, n_layers)
        self.proj = nn.Linear(width, units)
        # Training-only parameters, kept so the public file loads strictly.
        self.masked_spec_embed = nn.Parameter(torch.zeros(width))
        self.label_embedding = nn.Embedding(n_labels, units)

    def forward(self, wav):
        x = self.feature_extractor(wav).transpose(1, 2)  # [B, frames, C]
        x = self.feature_projection(x)
        x = self.norm(x + self.positional_embedding(x))
        return self.proj(self.encoder(x))
