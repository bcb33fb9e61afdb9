"""Integrated loudness (LUFS, ITU-R BS.1770-4) of mono audio, levelling clips to a target with it, and the
short-window envelope that lets a conversion follow the source singer. Integrated loudness is written
from the standard (pyloudnorm only checks it in the tests): K-weighting (a high shelf of about +4 dB
above 1.5 kHz, then a 38 Hz high-pass), mean square over 400 ms blocks that overlap by 75 %, an
absolute gate at -70 LUFS and a relative gate 10 LU below the loudness of the blocks that passed the
first gate."""
import numpy as np

BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
ENVELOPE_SECONDS = 0.05   # loudness-mix window
SILENCE_DB = -70.0        # windows quieter than this in the source take no gain from it
MAX_BOOST_DB = 24.0       # the envelope never lifts a window by more than this
PEAK_CEILING = 0.99       # levelling never drives a sample past this


class LoudnessError(ValueError):
    """A clip whose loudness cannot be measured or set."""

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
    power, level = power[level > ABSOLUTE_GATE], level[level > ABSOLUTE_GATE]
    if power.size == 0:
        return float("-inf")
    power = power[level > -0.691 + 10 * np.log10(power.mean()) + RELATIVE_GATE]
    return float(-0.691 + 10 * np.log10(power.mean()))


def loudness_gain(wav, sr, target_lufs, ceiling=PEAK_CEILING):
    """(linear gain, note) that brings `wav` to `target_lufs` unless a peak would pass `ceiling`;
    then the gain stops at the ceiling and the note says how far short the clip stays."""
    if len(wav) < BLOCK_SECONDS * sr:
        raise LoudnessError(f"too short to measure its loudness ({len(wav) / sr:.2f} s < {BLOCK_SECONDS} s).")
    measured = integrated_loudness(wav, sr)
    if not np.isfinite(measured):
        raise LoudnessError("the clip is silent: its loudness cannot be measured.")
    gain = 10.0 ** ((target_lufs - measured) / 20.0)
    peak = float(np.max(np.abs(wav)))
    if peak * gain > ceiling:
        gain = ceiling / peak
        reached = measured + 20.0 * np.log10(gain)
        return gain, (f"levelled to {reached:.1f} LUFS, not {target_lufs:g}: louder would clip "
                      f"(peak-to-loudness ratio {20 * np.log10(peak) - measured:.1f} dB)")
    return gain, ""


def window_levels(wav, sr):
    """RMS level in dBFS of consecutive ENVELOPE_SECONDS windows (the last one may be shorter): [W]."""
    size = max(1, int(round(ENVELOPE_SECONDS * sr)))
    wav = np.asarray(wav, dtype=np.float64)
    count = -(-len(wav) // size)
    sums = np.pad(wav ** 2, (0, count * size - len(wav))).reshape(count, size).sum(axis=1)
    lengths = np.minimum(size, len(wav) - np.arange(count) * size)
    return 10.0 * np.log10(sums / lengths + 1e-12)


def follow_envelope(out, out_sr, source, source_sr, mix=1.0):
    """`out` (the model's audio) with its short-window loudness moved toward the source's: mix 0 leaves
    it, 1 gives it the source's envelope, values between blend the two in dB. Windows where the source
    is silent keep the model's level (left to the post-processing gate); no window is lifted by more
    than MAX_BOOST_DB. A second pass corrects what smoothing the gain across windows left over."""
    if not 0.0 <= mix <= 1.0:
        raise LoudnessError(f"loudness mix {mix}: choose a value in [0, 1] (0 = the model's, 1 = the source's).")
    out = np.asarray(out, dtype=np.float64)
    if mix == 0 or len(out) == 0:
        return out.astype(np.float32)
    base = window_levels(out, out_sr)
    source_db = window_levels(source, source_sr)
    n = min(len(base), len(source_db))
    goal = base.copy()                                  # in dB, per window of `out`
    follow = source_db[:n] >= SILENCE_DB
    goal[:n][follow] += mix * (source_db[:n][follow] - base[:n][follow])
    goal = np.minimum(goal, base + MAX_BOOST_DB)
    centres = (np.arange(len(goal)) + 0.5) * max(1, int(round(ENVELOPE_SECONDS * out_sr)))
    for _ in range(2):  # gain linear in dB between window centres: it glides instead of stepping at edges
        gain_db = np.interp(np.arange(len(out)), centres, goal - window_levels(out, out_sr))
        out = out * 10.0 ** (gain_db / 20.0)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
