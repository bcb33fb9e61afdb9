"""Integrated loudness (LUFS, ITU-R BS.1770-4) of mono audio.

Written from the standard, so a figure does not depend on what is installed (pyloudnorm only
checks it in the tests): K-weighting (a high shelf of about +4 dB above 1.5 kHz, then a 38 Hz
high-pass), mean square over 400 ms blocks that overlap by 75 %, an absolute gate at -70 LUFS and
a relative gate 10 LU below the loudness of the blocks that passed the first gate.
"""
import numpy as np

BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0

# Analog prototypes of the two K-weighting stages, chosen so that their bilinear transforms give
# exactly the 48 kHz coefficients printed in BS.1770 (the values libebur128 uses for any rate).
SHELF_HZ, SHELF_GAIN_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
HIGHPASS_HZ, HIGHPASS_Q = 38.13547087602444, 0.5003270373238773


def k_weighting(rate):
    """[(b, a), (b, a)]: the shelf and high-pass biquads at `rate` Hz."""
    k = np.tan(np.pi * SHELF_HZ / rate)
    high = 10 ** (SHELF_GAIN_DB / 20)
    band = high ** 0.4996667741545416
    norm = 1 + k / SHELF_Q + k * k
    shelf = ([(high + band * k / SHELF_Q + k * k) / norm, 2 * (k * k - high) / norm,
              (high - band * k / SHELF_Q + k * k) / norm],
             [1.0, 2 * (k * k - 1) / norm, (1 - k / SHELF_Q + k * k) / norm])
    k = np.tan(np.pi * HIGHPASS_HZ / rate)
    norm = 1 + k / HIGHPASS_Q + k * k
    highpass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / norm, (1 - k / HIGHPASS_Q + k * k) / norm])
    return [shelf, highpass]


def integrated_loudness(wav, rate):
    """LUFS of mono `wav` at `rate` Hz; -inf when no block passes the absolute gate (silence)."""
    from scipy.signal import lfilter

    weighted = np.asarray(wav, dtype=np.float64)
    block, step = int(round(BLOCK_SECONDS * rate)), int(round(STEP_SECONDS * rate))
    if weighted.size < block:
        raise ValueError(f"loudness needs at least {BLOCK_SECONDS} s of audio, got {weighted.size / rate:.2f} s.")
    for b, a in k_weighting(rate):
        weighted = lfilter(b, a, weighted)
    squares = np.concatenate([[0.0], np.cumsum(weighted ** 2)])
    starts = np.arange(0, weighted.size - block + 1, step)
    power = (squares[starts + block] - squares[starts]) / block     # mean square per block
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(power)
    power = power[level > ABSOLUTE_GATE]
    if power.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(power.mean()) + RELATIVE_GATE
    with np.errstate(divide="ignore"):
        power = power[-0.691 + 10 * np.log10(power) > relative]
    return float(-0.691 + 10 * np.log10(power.mean()))
