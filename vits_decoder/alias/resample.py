"""Integer-ratio up- and down-sampling through a Kaiser-windowed sinc low-pass filter."""
import math

import torch
from torch import nn
from torch.nn import functional as F


def kaiser_beta(attenuation_db):
    """Kaiser's empirical beta for a stop-band attenuation in dB."""
    if attenuation_db > 50.0:
        return 0.1102 * (attenuation_db - 8.7)
    if attenuation_db >= 21.0:
        return 0.5842 * (attenuation_db - 21.0) ** 0.4 + 0.07886 * (attenuation_db - 21.0)
    return 0.0


def kaiser_sinc_filter(cutoff, half_width, kernel_size):
    """Low-pass FIR taps [1, 1, kernel_size] with unit DC gain; cutoff and half_width in cycles
    per sample (0.5 = Nyquist)."""
    half = kernel_size // 2
    # attenuation from the transition width (Kaiser's design formula)
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    window = torch.kaiser_window(kernel_size, periodic=False, beta=kaiser_beta(attenuation))
    t = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2  # centred tap times
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)
    return (taps / taps.sum()).view(1, 1, kernel_size)


class LowPassFilter1d(nn.Module):
    """Depthwise low-pass filtering of [B, C, T] with replicate padding and optional stride."""

    def __init__(self, cutoff=0.5, half_width=0.6, stride=1, kernel_size=12):
        super().__init__()
        if not 0.0 < cutoff <= 0.5:
            raise ValueError("cutoff must lie in (0, 0.5]")
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.stride = stride
        self.register_buffer("filter", kaiser_sinc_filter(cutoff, half_width, kernel_size))

    def forward(self, x):
        channels = x.size(1)
        x = F.pad(x, self.pad, mode="replicate")
        taps = self.filter.to(x.dtype).expand(channels, -1, -1)
        return F.conv1d(x, taps, stride=self.stride, groups=channels)


class UpSample1d(nn.Module):
    """[B, C, T] -> [B, C, T * ratio]: zero-stuffing by transposed conv with the low-pass taps."""

    def __init__(self, ratio=2, kernel_size=12):
        super().__init__()
        self.ratio = ratio
        self.pad = kernel_size // ratio - 1
        # samples the transposed conv produces beyond the wanted T * ratio, per side
        self.crop_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, kernel_size))

    def forward(self, x):
        channels = x.size(1)
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        taps = self.filter.to(x.dtype).expand(channels, -1, -1)
        x = self.ratio * F.conv_transpose1d(x, taps, stride=self.ratio, groups=channels)
        return x[..., self.crop_left: x.size(-1) - self.crop_right]


class DownSample1d(nn.Module):
    """[B, C, T] -> [B, C, T // ratio]: low-pass then keep every ratio-th sample."""

    def __init__(self, ratio=2, kernel_size=12):
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, stride=ratio, kernel_size=kernel_size)

    def forward(self, x):
        return self.lowpass(x)
