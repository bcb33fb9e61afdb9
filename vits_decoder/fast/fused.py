"""Anti-aliased Snake-beta as one compiled pass per channel (CPU fast path; kernel in snake_kernel.py).

The torch forms go through memory once per step (up-sample, multiply, sine, square, multiply-add,
down-sample); here numba reads each input sample once and keeps the rest in cache: ~4x faster on
the decoder's shapes, the activations being about half of its time. Per channel, with x
edge-padded by 3 samples on each side (x_p[j] = x[clamp(j - 3)]):

* up (x2, the 12 kaiser-sinc taps h times 2, reversed):
      even[j] = sum_k h[2k] x_p[j + k],  odd[j] = sum_k h[2k + 1] x_p[j + k + 1]   (k = 0..5)
* Snake-beta on both phases: w = z + sin^2(a z) / b;
* down (12 low-pass taps g, keep every 2nd): the plain path filters the x2 signal edge-padded by
  5 on the left, so out[j] = sum_i g[i] w[clamp(2j + i - 5)], which splits by the parity of i
  into 6 taps on each phase; both phases are padded with the x2 signal's end samples.
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


def kernel():
    """The compiled kernel, or None when it cannot be had (the torch polyphase form runs then)."""
    with _lock:
        if "rows" not in _kernel:
            try:
                from vits_decoder.fast.snake_kernel import snake_alias_rows
                # one tiny call: numba compiles here, or loads from its cache (~1 s once a machine, ~0.3 s)
                x, one, taps = np.zeros((1, 4), np.float32), np.ones(1, np.float32), np.zeros(12, np.float32)
                snake_alias_rows(x, one, one, taps, taps, np.empty_like(x))
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
    """Module parameters -> numpy (scale [C], inv_b [C], up taps [12], down taps [12]); up taps are the
    reversed up-sampling filter times the x2 gain, as the formulas above read them."""
    with torch.no_grad():
        scale, inv_b = snake_constants(alpha.float(), beta.float())  # [C, 1] each
        up = up_filter.reshape(-1).flip(0).float() * 2.0
        down = down_filter.reshape(-1).float()
    return tuple(t.detach().cpu().reshape(-1).contiguous().numpy() for t in (scale, inv_b, up, down))


def _split_rows(run, arrays, per_channel):
    """run(*row ranges of arrays, *per_channel constants) over torch's threads when called outside
    the decoder's tiles (inside them, one thread each); contiguous row ranges, the per-channel
    constants rolled so that row n stays on channel n % C."""
    n, t = arrays[0].shape
    workers = 1 if n * t < (1 << 16) else min(torch.get_num_threads(), n)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    map_single_threaded([lambda lo=lo, hi=hi: run(*(a[lo:hi] for a in arrays), *(np.roll(c, -lo) for c in per_channel))
                         for lo, hi in zip(bounds[:-1], bounds[1:])], workers)


def snake_alias_fused(x, scale, inv_b, up, down):
    """x [B, C, T] float32 -> [B, C, T]; the other arguments from `constants`."""
    b, c, t = x.shape
    rows = x.detach().reshape(b * c, t).contiguous()
    out = torch.empty_like(rows)
    run = kernel()
    _split_rows(lambda x, out, scale, inv_b: run(x, scale, inv_b, up, down, out), (rows.numpy(), out.numpy()),
                (scale, inv_b))
    return out.view(b, c, t)


class SnakeFunction(torch.autograd.Function):
    """snake_alias_fused with its gradient (compiled too): dL/dx, dL/dalpha, dL/dbeta."""

    @staticmethod
    def forward(ctx, x, alpha, beta, consts):
        ctx.save_for_backward(x, alpha, beta)
        ctx.consts = consts
        return snake_alias_fused(x, *consts)

    @staticmethod
    def backward(ctx, grad):
        from vits_decoder.fast.snake_kernel import snake_alias_rows_backward

        x, alpha, beta = ctx.saved_tensors
        scale, inv_b, up, down = ctx.consts
        b, c, t = x.shape
        rows, grad = x.detach().reshape(b * c, t).contiguous(), grad.reshape(b * c, t).contiguous()
        grad_x = torch.empty_like(rows)
        sums = torch.empty(2, b * c, dtype=torch.float64)
        _split_rows(lambda x, g, gx, sa, sb, scale, inv_b: snake_alias_rows_backward(x, g, scale, inv_b, up, down, gx,
                                                                                    sa, sb),
                    (rows.numpy(), grad.numpy(), grad_x.numpy(), sums[0].numpy(), sums[1].numpy()), (scale, inv_b))
        sum_a, sum_b = sums.view(2, b, c).sum(1).to(alpha.dtype)
        # a = exp(alpha): da/dalpha = a; 1/b = 1 / (exp(beta) + eps): d(1/b)/dbeta = -exp(beta) / b^2
        a, exp_beta = torch.exp(alpha), torch.exp(beta)
        inv = 1.0 / (exp_beta + 1e-9)
        return grad_x.view(b, c, t), sum_a * inv * a, -sum_b * inv * inv * exp_beta, None


class CompiledSnake(PolyphaseSnake):
    """SnakeAlias as the compiled kernel (with its compiled gradient) for float32 on a CPU; the
    polyphase form otherwise (and where numba is missing), the plain one while tracing."""

    def forward(self, x):
        if x.device.type != "cpu" or x.dtype != torch.float32 or tracing() or kernel() is None:
            return super().forward(x)
        consts = self.constants("fused", constants)
        if torch.is_grad_enabled() and (x.requires_grad or self.act.alpha.requires_grad):
            return SnakeFunction.apply(x, self.act.alpha, self.act.beta, consts)
        return snake_alias_fused(x, *consts)
