"""Frame-sequence filters for pitch tracks: centred mean/median with shrinking edge windows,
gap interpolation, and length fitting."""
import numpy as np


def _filtered(x, width, reduce):
    """reduce(centred windows of `width` samples), the windows cut short at the ends (NaN padding): a
    moving mean or median where near the ends only the samples that exist count."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or width <= 1:
        return x.copy()
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(width - 1 - half, np.nan)])
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)  # windows [T, width]


def mean_filter(x, width):
    return _filtered(x, width, np.nanmean)


def median_filter(x, width):
    return _filtered(x, width, np.nanmedian)


def interpolate_gaps(f0, voiced):
    """Fill unvoiced frames by interpolating log-frequency between voiced neighbours (the nearest voiced
    value at the ends; f0 as is when nothing is voiced)."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = np.asarray(voiced, dtype=bool) & (f0 > 0)
    if not voiced.any() or voiced.all():
        return f0.copy()
    idx = np.arange(len(f0))
    return np.exp(np.interp(idx, idx[voiced], np.log(f0[voiced])))


def fit_length(x, length):
    """Trim, or pad by repeating the last value (0 when empty), to exactly `length` frames."""
    x = np.asarray(x)
    if len(x) >= length:
        return x[:length]
    fill = x[-1] if len(x) else 0.0
    return np.concatenate([x, np.full(length - len(x), fill, dtype=x.dtype)])
