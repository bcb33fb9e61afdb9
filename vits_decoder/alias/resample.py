"""Integer-ratio up- and down-sampling through the Kaiser-sinc low-pass filter."""
from torch import nn
from torch.nn import functional as F

from vits_decoder.alias.filter import LowPassFilter1d, kaiser_sinc_filter


class UpSample1d(nn.Module):
    """[B, C, T] -> [B, C, T * ratio]: zero-stuffing by transposed conv with the low-pass taps."""

    def __init__(self, ratio=2, kernel_size=None):
        super().__init__()
        self.ratio = ratio
        kernel_size = kernel_size or int(6 * ratio // 2) * 2
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

    def __init__(self, ratio=2, kernel_size=None):
        super().__init__()
        kernel_size = kernel_size or int(6 * ratio // 2) * 2
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, stride=ratio, kernel_size=kernel_size)

    def forward(self, x):
        return self.lowpass(x)
