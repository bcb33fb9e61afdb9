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

The kernel itself is in snake_kernel.py; without numba the polyphase path runs instead.
"""
import contextlib
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from common.runtime import cpu_cores, exporting
from vits_decoder.alias.polyphase import snake_constants

_lock = threading.Lock()       # held while the kernel compiles or loads
_start_lock = threading.Lock()  # held only to start the background warm-up (never waits for it)
_pool_lock = threading.Lock()
_kernel = None
_missing = None
_pool = None
_warming = None
_off = 0


def _compile_check(run):
    """One tiny call: numba compiles the kernel here, or loads it from its cache (~1 s the first
    time on a machine, ~0.3 s after)."""
    x = np.zeros((1, 4), np.float32)
    run(x, np.ones(1, np.float32), np.ones(1, np.float32), np.zeros(12, np.float32),
        np.zeros(12, np.float32), np.empty_like(x))


def kernel():
    """The compiled kernel, or None when it cannot be had (the torch polyphase path runs then)."""
    global _kernel, _missing
    if _kernel is None and _missing is None:
        with _lock:
            if _kernel is None and _missing is None:
                try:
                    from vits_decoder.alias.snake_kernel import snake_alias_rows
                    _compile_check(snake_alias_rows)
                    _kernel = snake_alias_rows
                except Exception as error:  # numba comes with librosa; without it, stay correct
                    _missing = error
                    warnings.warn(f"the compiled Snake activation is unavailable ({error}); conversion "
                                  f"uses the slower torch form (pip install numba to get it back)")
    return _kernel


def prepare():
    """kernel() once per process on a background thread, while the model and extractors load."""
    global _warming
    with _start_lock:
        if _warming is None and _kernel is None:
            _warming = threading.Thread(target=kernel, name="snake-kernel-warm-up", daemon=True)
            _warming.start()


@contextlib.contextmanager
def switched_off():
    """Within it the torch polyphase form runs instead (for benches that compare the two)."""
    global _off
    _off += 1
    try:
        yield
    finally:
        _off -= 1


def applies(x, *params):
    """True for float32 CPU inference (no gradient wanted) outside export, with numba present."""
    if _off or x.device.type != "cpu" or x.dtype != torch.float32 or exporting():
        return False
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return False
    return kernel() is not None


def constants(alpha, beta, up_filter, down_filter):
    """Module parameters -> numpy (scale [C], inv_b [C], up taps [12], down taps [12]).

    up taps are the reversed up-sampling filter times the x2 gain, as the formulas above read them."""
    with torch.no_grad():
        scale, inv_b = snake_constants(alpha.float(), beta.float())  # [C, 1] each
        up = up_filter.reshape(-1).flip(0).float() * 2.0
        down = down_filter.reshape(-1).float()
    return tuple(t.detach().cpu().reshape(-1).contiguous().numpy() for t in (scale, inv_b, up, down))


def _row_pool():
    """Threads for splitting rows when the caller is not already one of the decoder's tiles."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(cpu_cores(), thread_name_prefix="snake-rows")
    return _pool


def snake_alias_fused(x, scale, inv_b, up, down):
    """x [B, C, T] float32 -> [B, C, T]; the other arguments from `constants`. Rows are split over
    torch's threads when called outside the decoder's tiles (inside them, one thread each)."""
    b, c, t = x.shape
    rows = x.detach().reshape(b * c, t).contiguous()
    out = torch.empty_like(rows)
    run = kernel()
    source, dest = rows.numpy(), out.numpy()
    workers = min(torch.get_num_threads(), b * c)
    if workers <= 1 or b * c * t < (1 << 16):
        run(source, scale, inv_b, up, down, dest)
    else:
        # contiguous row ranges; rolling the per-channel constants keeps row n on channel n % C
        bounds = np.linspace(0, b * c, workers + 1).astype(int)
        jobs = [_row_pool().submit(run, source[lo:hi], np.roll(scale, -lo), np.roll(inv_b, -lo), up, down,
                                   dest[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
        for job in jobs:
            job.result()
    return out.view(b, c, t)
