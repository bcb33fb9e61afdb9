"""Anti-aliased Snake-beta as one compiled pass per channel (CPU inference fast path).

The torch forms (plain and polyphase) go through memory several times per activation: up-sample,
multiply, sine, square, multiply-add, down-sample, each a full pass, and the polyphase one does
about five times the needed multiply-adds to turn the 6-tap filters into matrix products. Here
numba compiles one loop per channel that reads each input sample once and keeps everything else
in cache: ~4x faster on the decoder's shapes, the activations being about half of its time.

Per channel, with x edge-padded by 3 samples on each side (x_p[j] = x[clamp(j - 3)]):

* up (x2, the 12 kaiser-sinc taps h times 2, reversed):
      even[j] = sum_k h[2k] x_p[j + k],  odd[j] = sum_k h[2k + 1] x_p[j + k + 1]   (k = 0..5)
* Snake-beta on both phases: w = z + sin^2(a z) / b;
* down (12 low-pass taps g, keep every 2nd): the plain path filters the x2 signal edge-padded by
  5 on the left, so out[j] = sum_i g[i] w[clamp(2j + i - 5)], which splits by the parity of i
  into 6 taps on each phase; both phases are padded with the x2 signal's end samples.

The kernel itself is in snake_kernel.py; without numba the polyphase form runs instead.
"""
import threading
import warnings

import numpy as np
import torch

from common.runtime import map_single_threaded
from vits_decoder.fast import tracing
from vits_decoder.fast.polyphase import PolyphaseSnake, snake_constants

_lock = threading.Lock()  # held while the kernel compiles or loads
_kernel = {}              # "rows": the compiled kernel, or None when numba cannot give it


def _compile_check(run):
    """One tiny call: numba compiles the kernel here, or loads it from its cache (~1 s the first
    time on a machine, ~0.3 s after)."""
    x = np.zeros((1, 4), np.float32)
    run(x, np.ones(1, np.float32), np.ones(1, np.float32), np.zeros(12, np.float32),
        np.zeros(12, np.float32), np.empty_like(x))


def kernel():
    """The compiled kernel, or None when it cannot be had (the torch polyphase form runs then)."""
    with _lock:
        if "rows" not in _kernel:
            try:
                from vits_decoder.fast.snake_kernel import snake_alias_rows
                _compile_check(snake_alias_rows)
                _kernel["rows"] = snake_alias_rows
            except Exception as error:  # numba comes with librosa; without it, stay correct
                _kernel["rows"] = None
                warnings.warn(f"the compiled Snake activation is unavailable ({error}); the slower torch "
                              f"form runs (pip install numba to get it back)")
    return _kernel["rows"]


def prepare():
    """kernel() on a background thread, while the model and extractors load."""
    if "rows" not in _kernel:
        threading.Thread(target=kernel, name="snake-kernel-warm-up", daemon=True).start()


def constants(alpha, beta, up_filter, down_filter):
    """Module parameters -> numpy (scale [C], inv_b [C], up taps [12], down taps [12]).

    up taps are the reversed up-sampling filter times the x2 gain, as the formulas above read them."""
    with torch.no_grad():
        scale, inv_b = snake_constants(alpha.float(), beta.float())  # [C, 1] each
        up = up_filter.reshape(-1).flip(0).float() * 2.0
        down = down_filter.reshape(-1).float()
    return tuple(t.detach().cpu().reshape(-1).contiguous().numpy() for t in (scale, inv_b, up, down))


def snake_alias_fused(x, scale, inv_b, up, down):
    """x [B, C, T] float32 -> [B, C, T]; the other arguments from `constants`. Rows are split over
    torch's threads when called outside the decoder's tiles (inside them, one thread each)."""
    b, c, t = x.shape
    rows = x.detach().reshape(b * c, t).contiguous()
    out = torch.empty_like(rows)
    run = kernel()
    source, dest = rows.numpy(), out.numpy()
    workers = 1 if b * c * t < (1 << 16) else min(torch.get_num_threads(), b * c)
    # contiguous row ranges; rolling the per-channel constants keeps row n on channel n % C
    bounds = np.linspace(0, b * c, workers + 1).astype(int)
    map_single_threaded([lambda lo=lo, hi=hi: run(source[lo:hi], np.roll(scale, -lo), np.roll(inv_b, -lo), up, down,
                                                  dest[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])], workers)
    return out.view(b, c, t)


class CompiledSnake(PolyphaseSnake):
    """SnakeAlias as the compiled kernel for float32 on a CPU without autograd; the polyphase form
    otherwise (and where numba is missing), the plain one while tracing."""

    def forward(self, x):
        if x.device.type != "cpu" or x.dtype != torch.float32 or tracing() or kernel() is None or (
                torch.is_grad_enabled() and (x.requires_grad or self.act.alpha.requires_grad)):
            return super().forward(x)
        return snake_alias_fused(x, *self.constants("fused", constants))
