"""Snake-beta activation and its anti-aliased wrapper (the plain reference; fast forms: fast/)."""
import torch
from torch import nn

from vits_decoder.alias.resample import DownSample1d, UpSample1d


class SnakeBeta(nn.Module):
    """x + sin^2(a x) / b per channel, with a = exp(alpha), b = exp(beta) (log-scale parameters)."""

    def __init__(self, channels):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        # x [B, C, T]; parameters broadcast as [1, C, 1]
        a = torch.exp(self.alpha)[None, :, None]
        b = torch.exp(self.beta)[None, :, None]
        return x + torch.sin(x * a).pow(2) / (b + 1e-9)


class SnakeAlias(nn.Module):
    """SnakeBeta evaluated at twice the sample rate, so its harmonics do not alias back:
    zero-stuffing up-sampler, activation, strided low-pass. The filters are buffers named as in
    the public checkpoints (upsample.filter, downsample.lowpass.filter)."""

    def __init__(self, channels, ratio=2, kernel_size=12):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d(ratio, kernel_size)
        self.downsample = DownSample1d(ratio, kernel_size)

    def forward(self, x):
        return self.downsample(self.act(self.upsample(x)))
