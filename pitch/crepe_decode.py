"""From CREPE's 360 bin activations to Hz: Viterbi path, then the local weighted average.

Bin b is centred at 20 b + 1997.38 cents above 10 Hz (bin 0 ~31.7 Hz, bin 359 ~2006 Hz).
"""
import numpy as np

CENTS_PER_BIN = 20.0
CENTS_OFFSET = 1997.3794084376191
PITCH_BINS = 360
# Viterbi transitions allow moves of at most 11 bins (220 cents) per frame, weighted 12 - |jump|
MAX_JUMP = 11
# bins either side of the peak that the weighted average uses
REFINE_HALF_WIDTH = 4
BIN_CENTS = CENTS_PER_BIN * np.arange(PITCH_BINS, dtype=np.float64) + CENTS_OFFSET


def cents_to_hz(cents):
    return 10.0 * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def hz_to_cents(hz):
    return 1200.0 * np.log2(np.asarray(hz, dtype=np.float64) / 10.0)


def _log_transition_band():
    """band[j, d] = log P(bin j at t | bin j + d - MAX_JUMP at t-1), rows of the full matrix normalised."""
    idx = np.arange(PITCH_BINS)
    weight = np.maximum(MAX_JUMP + 1 - np.abs(idx[:, None] - idx[None, :]), 0).astype(np.float64)
    matrix = weight / weight.sum(axis=1, keepdims=True)  # [from, to]
    src = idx[:, None] + np.arange(-MAX_JUMP, MAX_JUMP + 1)  # [to, 23]: the bin each offset comes from
    ok = (src >= 0) & (src < PITCH_BINS)
    band = np.full(src.shape, -np.inf)
    band[ok] = np.log(matrix[src[ok], np.broadcast_to(idx[:, None], src.shape)[ok]])
    return band


_BAND = _log_transition_band()


def viterbi_bins(activations, first, stop):
    """Most likely bin path through activations [T, 360], bins outside [first, stop) excluded. As in
    torchcrepe a bin's log-likelihood is its softmax over the allowed bins, whose per-frame normaliser
    does not change the best path, so the activation itself is used."""
    frames = activations.shape[0]
    emit = np.full((frames, PITCH_BINS), -np.inf)
    emit[:, first:stop] = activations[:, first:stop]
    back = np.zeros((frames, PITCH_BINS), dtype=np.int16)
    score = emit[0] - np.log(PITCH_BINS)
    pad = np.full(MAX_JUMP, -np.inf)
    for t in range(1, frames):
        windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, score, pad]), 2 * MAX_JUMP + 1)
        cand = windows + _BAND  # [360 to, 23 from-offsets]
        best = np.argmax(cand, axis=1)
        back[t] = best
        score = cand[np.arange(PITCH_BINS), best] + emit[t]
    path = np.empty(frames, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(frames - 1, 0, -1):
        path[t - 1] = path[t] + back[t, path[t]] - MAX_JUMP
    return path


def local_average(weights, peak, cents):
    """Weighted mean of the bin `cents` within +-4 bins of each frame's `peak` bin (sub-bin precision),
    bins past the table's ends counting as 0. weights [T, bins] (0 outside the allowed range) -> [T]."""
    near = peak[:, None] + np.arange(-REFINE_HALF_WIDTH, REFINE_HALF_WIDTH + 1)  # [T, 9]
    inside = (near >= 0) & (near < weights.shape[1])
    near = np.clip(near, 0, weights.shape[1] - 1)
    w = np.take_along_axis(weights, near, axis=1) * inside
    total = w.sum(axis=1)
    return np.where(total > 0, (w * cents[near]).sum(axis=1) / np.maximum(total, 1e-12), cents[peak])


def decode(activations, fmin, fmax):
    """activations [T, 360] -> (f0 Hz [T] float64, periodicity [T] = activation at the Viterbi bin)."""
    activations = np.asarray(activations, dtype=np.float64)
    # bins inside fmin..fmax (first rounded down, stop rounded up)
    first = max(int(np.floor((hz_to_cents(fmin) - CENTS_OFFSET) / CENTS_PER_BIN)), 0)
    stop = min(int(np.ceil((hz_to_cents(fmax) - CENTS_OFFSET) / CENTS_PER_BIN)), PITCH_BINS)
    bins = viterbi_bins(activations, first, stop)
    periodicity = activations[np.arange(len(bins)), bins]
    # the weighted average only looks inside the allowed range
    masked = np.zeros_like(activations)
    masked[:, first:stop] = activations[:, first:stop]
    return cents_to_hz(local_average(masked, bins, BIN_CENTS)), periodicity
