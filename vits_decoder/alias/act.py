"""Snake-beta activation and its anti-aliased wrapper."""
import torch
from torch import nn

from common.runtime import exporting
import vits_decoder.alias.fused as fused
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

    Equal paths: the plain one (zero-stuffing up-sampler, activation, strided low-pass) and the
    fast ones, switched on by `use_polyphase`: without autograd in float32 on CPU one compiled
    pass per channel (fused.py), otherwise the polyphase matrix form (polyphase.py). Tracing and
    ONNX export always record the plain one (the fast ones have shape-dependent control flow). The filters stay buffers
    named as in the public checkpoints (upsample.filter, downsample.lowpass.filter).
    """

    def __init__(self, channels, ratio=2, kernel_size=12):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d(ratio, kernel_size)
        self.downsample = DownSample1d(ratio, kernel_size)
        self.polyphase = False
        self._cache = {}  # path -> (key, constants) of the fast paths, kept while no gradient is needed

    def use_polyphase(self, enabled=True):
        if enabled:
            check_supported(self.upsample.filter, self.downsample.lowpass.filter, self.upsample.ratio)
        self.polyphase = bool(enabled)
        self._cache = {}
        return self

    def _tensors(self):
        return self.act.alpha, self.act.beta, self.upsample.filter, self.downsample.lowpass.filter

    def _constants(self, path, device, compute):
        """compute(*tensors) for `path`, computed once and reused without autograd until a
        parameter or buffer changes (in place, by load_state_dict, or by moving the module)."""
        tensors = self._tensors()
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return compute(*tensors)
        key = (device,) + tuple((t.data_ptr(), t._version) for t in tensors)
        cached = self._cache.get(path)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = self._cache[path] = (key, compute(*tensors))
        return cached[1]

    def _polyphase_constants(self, device):
        """(scale, inv_b, up matrices, down matrices) of the polyphase path."""
        def compute(alpha, beta, up_filter, down_filter):
            return snake_constants(alpha, beta) + (upsample_matrices(up_filter), downsample_matrices(down_filter))
        return self._constants("polyphase", device, compute)

    def forward(self, x):
        if self.polyphase and not exporting():
            if fused.applies(x, *self._tensors()):
                return fused.snake_alias_fused(x, *self._constants("fused", x.device, fused.constants))
            return snake_alias_polyphase(x, *self._polyphase_constants(x.device))
        return self.downsample(self.act(self.upsample(x)))
