"""Snake-beta activation and its anti-aliased wrapper."""
import torch
from torch import nn

from common.runtime import exporting
from vits_decoder.alias.polyphase import (check_supported, downsample_matrices, snake_alias_polyphase,
                                          snake_constants, upsample_matrices)
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
    """SnakeBeta evaluated at twice the sample rate, so its harmonics do not alias back.

    Two equal paths: the plain one (zero-stuffing up-sampler, activation, strided low-pass) and
    the polyphase one (see polyphase.py), switched by `use_polyphase`; tracing and ONNX export
    always record the plain one (the polyphase one has shape-dependent Python control flow). The filters stay buffers
    named as in the public checkpoints (upsample.filter, downsample.lowpass.filter).
    """

    def __init__(self, channels, ratio=2, kernel_size=12):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d(ratio, kernel_size)
        self.downsample = DownSample1d(ratio, kernel_size)
        self.polyphase = False
        self._cache = None  # (key, constants) of the polyphase path when no gradient is needed

    def use_polyphase(self, enabled=True):
        if enabled:
            check_supported(self.upsample.filter, self.downsample.lowpass.filter, self.upsample.ratio)
        self.polyphase = bool(enabled)
        self._cache = None
        return self

    def _polyphase_constants(self, device):
        """(scale, inv_b, up matrices, down matrices) from the current parameters and buffers.

        Without autograd they are computed once and reused until a parameter or buffer changes
        (in place, by load_state_dict, or by moving the module)."""
        tensors = (self.act.alpha, self.act.beta, self.upsample.filter, self.downsample.lowpass.filter)
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return self._compute_constants()
        key = (device,) + tuple((t.data_ptr(), t._version) for t in tensors)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self._compute_constants())
        return self._cache[1]

    def _compute_constants(self):
        scale, inv_b = snake_constants(self.act.alpha, self.act.beta)
        return (scale, inv_b, upsample_matrices(self.upsample.filter),
                downsample_matrices(self.downsample.lowpass.filter))

    def forward(self, x):
        if self.polyphase and not exporting():
            return snake_alias_polyphase(x, *self._polyphase_constants(x.device))
        return self.downsample(self.act(self.upsample(x)))
