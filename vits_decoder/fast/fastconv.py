"""Dense 1-D convolution as one matrix product per kernel tap (CPU inference fast path):
y = sum_k W[:, :, k] @ x[:, k*d : k*d + T], accumulated in place. oneDNN's direct convolution is
slow for the decoder's narrow, long, dilated layers; each product here is a well-shaped GEMM."""
import torch
from torch import nn

from vits_decoder.fast import tracing
from vits_decoder.nn_utils import has_weight_norm

# Where the per-tap products win, measured one thread per layer shape of the base decoder:
# 20 and 40 channels 1.1-3.8x; 10 channels 0.8-1.0x and 80 / 160 channels 0.85-1.0x (oneDNN wins).
MIN_CHANNELS = 16
MAX_CHANNELS = 64
TILE_ELEMENTS = 1 << 18  # input elements per time tile (~1 MB): every tap re-reads it from cache


def suits(conv):
    """16-64 input channels, folded, stride 1, odd 'same' padding (the centre tap covers every output)."""
    return (MIN_CHANNELS <= conv.in_channels <= MAX_CHANNELS and conv.groups == 1 and conv.stride == (1,)
            and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple) and conv.kernel_size[0] % 2 == 1
            and 2 * conv.padding[0] == conv.dilation[0] * (conv.kernel_size[0] - 1) and not has_weight_norm(conv))


def conv1d_by_taps(conv, x):
    """conv(x) for x [B, in, T] -> [B, out, T] as K accumulated matrix products per item and time tile
    (kept in cache across the K products). No padded copy: the centre tap starts each tile's sum
    (with the bias); every other tap adds only over the outputs whose input lies inside x."""
    w = conv.weight
    key = (w.data_ptr(), w._version, w.device, x.dtype)
    if conv.__dict__.get("_tap_cache", (None,))[0] != key:  # weight [out, in, K] as taps, until it changes
        conv.__dict__["_tap_cache"] = (key, w.detach().to(x.dtype).permute(2, 0, 1).contiguous())
    taps = conv.__dict__["_tap_cache"][1]                   # [K, out, in]
    (pad,), (dilation,) = conv.padding, conv.dilation
    kernel, length = taps.size(0), x.size(-1)
    centre = kernel // 2
    bias = conv.bias.to(x.dtype).unsqueeze(1) if conv.bias is not None else None
    out = x.new_empty(x.size(0), taps.size(1), length)
    tile = max(256, TILE_ELEMENTS // x.size(1))
    for b in range(x.size(0)):
        for start in range(0, length, tile):
            stop = min(start + tile, length)
            y = out[b, :, start:stop]
            if bias is not None:
                torch.addmm(bias, taps[centre], x[b, :, start:stop], out=y)
            else:
                torch.mm(taps[centre], x[b, :, start:stop], out=y)
            for k in range(kernel):
                shift = k * dilation - pad                  # output t reads input t + shift
                lo, hi = max(start, -shift), min(stop, length - shift)
                if k != centre and lo < hi:
                    y[:, lo - start:hi - start].addmm_(taps[k], x[b, :, lo + shift:hi + shift])
    return out


class TapConv1d(nn.Conv1d):
    """A Conv1d that runs as per-tap products on a CPU without autograd (the plain one otherwise)."""

    def forward(self, x):
        if x.device.type != "cpu" or tracing() or (torch.is_grad_enabled() and (
                x.requires_grad or self.weight.requires_grad)):
            return super().forward(x)
        return conv1d_by_taps(self, x)
