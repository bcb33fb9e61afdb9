"""HuBERT-Soft network with the parameter names of bshall/hubert's checkpoint; sizes are arguments."""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride) of the 7 waveform convolutions: 400-sample receptive field, 320-sample hop.
CONV_LAYOUT = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
HEAD_WIDTH = 64  # HuBERT-Base: 768 wide, 12 heads
ROWS_PER_PASS = 2048  # time rows per piece in the first layer's norm (cache-sized temporaries)


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
        for i, (kernel, stride) in enumerate(CONV_LAYOUT):
            conv = nn.Conv1d(1 if i == 0 else channels, channels, kernel, stride, bias=False)
            setattr(self, f"conv{i}", conv)
        self.norm0 = nn.GroupNorm(channels, channels)

    def forward(self, x):
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not torch.is_grad_enabled():
            return self.forward_as_products(x, torch.get_autocast_dtype("cpu"))
        x = F.gelu(self.norm0(self.conv0(x)))
        for i in range(1, len(CONV_LAYOUT)):
            x = F.gelu(getattr(self, f"conv{i}")(x))
        return x

    def forward_as_products(self, x, dtype):
        """The same network as matrix products on [B, time, C] (CPU inference under autocast).

        oneDNN's bfloat16 convolutions reorder their input and output on every call: the stack
        took 0.46 s per 20 s of audio on 2 cores, 5x the bf16 matrix products that compute it
        here. A stride-2 convolution reads rows 2t .. 2t + k - 1, so with time as rows two
        neighbouring rows side by side ([B, L / 2, 2C], a free reshape) meet the first two taps in
        one product; the third tap of the k=3 layers reads every other row (a strided view). The
        first layer (one input channel, 10 taps) and its norm stay in float32, as under autocast."""
        with torch.autocast("cpu", enabled=False):
            frames = x[:, 0].float().unfold(-1, self.conv0.kernel_size[0], self.conv0.stride[0])  # [B, T0, 10]
            h = frames @ self.conv0.weight[:, 0].t().float()                                    # [B, T0, C]
            h = _norm_gelu_rows(h, self.norm0, dtype)
            for i in range(1, len(CONV_LAYOUT)):
                h = F.gelu(_strided_conv_rows(h, getattr(self, f"conv{i}").weight.to(dtype)))
        return h.transpose(1, 2)  # [B, C, frames], as the convolutions return it


def _norm_gelu_rows(h, norm, dtype, rows=ROWS_PER_PASS):
    """GELU(group norm with a group per channel) of h [B, L, C] over time, as `dtype`.

    Two passes for the variance (stable), each over a few rows at a time so the temporaries stay
    in cache (torch's var_mean over the middle axis took 8x longer)."""
    mean = h.mean(dim=1, keepdim=True)                                   # [B, 1, C]
    var = torch.zeros_like(mean)
    for piece in h.split(rows, dim=1):
        centred = piece - mean
        var += (centred * centred).sum(dim=1, keepdim=True)
    scale = norm.weight * torch.rsqrt(var / h.size(1) + norm.eps)
    shift = norm.bias - mean * scale
    out = torch.empty(h.shape, dtype=dtype, device=h.device)
    for piece, dest in zip(h.split(rows, dim=1), out.split(rows, dim=1)):
        dest.copy_(F.gelu(torch.addcmul(shift, piece, scale)))
    return out


def _strided_conv_rows(h, weight):
    """Stride-2 convolution without padding, kernel 2 or 3, on rows: h [B, L, C_in], weight
    [C_out, C_in, k] -> [B, (L - k) // 2 + 1, C_out]."""
    b, length, channels = h.shape
    kernel = weight.size(-1)
    out_len = (length - kernel) // 2 + 1
    taps = weight.permute(2, 1, 0)                                      # [k, C_in, C_out]
    pairs = h[:, :2 * out_len].reshape(b, out_len, 2 * channels)        # rows 2t and 2t + 1
    out = pairs @ taps[:2].reshape(2 * channels, -1)                    # [B, out_len, C_out]
    if kernel == 3:
        third = h[:, 2:2 * out_len + 1:2]                                # rows 2t + 2
        out = out + third @ taps[2]
    return out


class WeightNormConv1d(nn.Module):
    """Conv1d whose weight is g * v / |v|, the norm taken per kernel tap (weight norm with dim=2), stored
    as weight_g [1, 1, K] / weight_v [out, in / groups, K] (the public checkpoint's legacy names)."""

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


class HubertSoftNet(nn.Module):
    """waveform [B, 1, T] (already padded) -> soft units [B, frames, units]."""

    def __init__(self, conv_channels=512, width=768, ffn=3072, n_layers=12, pos_kernel=128,
                 pos_groups=16, units=256, n_labels=100):
        super().__init__()
        heads = max(1, width // HEAD_WIDTH) if width % HEAD_WIDTH == 0 else 1
        self.feature_extractor = FeatureExtractor(conv_channels)
        self.feature_projection = nn.Sequential(OrderedDict(norm=nn.LayerNorm(conv_channels),
                                                            projection=nn.Linear(conv_channels, width)))
        self.positional_embedding = PositionalConvEmbedding(width, pos_kernel, pos_groups)
        self.norm = nn.LayerNorm(width)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(width, heads, ffn, dropout=0.0, activation="gelu", batch_first=True)
            for _ in range(n_layers))
        self.proj = nn.Linear(width, units)
        # Training-only parameters, kept so the public file loads strictly.
        self.masked_spec_embed = nn.Parameter(torch.zeros(width))
        self.label_embedding = nn.Embedding(n_labels, units)

    def forward(self, wav):
        x = self.feature_extractor(wav).transpose(1, 2)  # [B, frames, C]
        x = self.feature_projection(x)
        x = self.norm(x + self.positional_embedding(x))
        for layer in self.encoder.layers:
            x = layer(x)
        return self.proj(x)
