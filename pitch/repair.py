"""Repair of the two errors pitch trackers make most: isolated octave jumps and short glitches.

A run of voiced frames more than 100 cents off the local contour (running median of the voiced
pitch over 310 ms), widened along the ramps a smoothing filter spreads around it, is repaired only
when isolated (its voiced neighbours sit on the contour: a real leap to a new note is not) and
short: an octave error (plateau within 300 cents of whole octaves, <= 150 ms) is moved back by
those octaves, keeping its vibrato; a glitch (other offsets reaching 250 cents, <= 80 ms: a 30 ms
error after the extractors' 50 ms smoothing) becomes the log-frequency line between its
neighbours. Unvoiced frames (0 Hz) are never changed and never count as contour.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from pitch.crepe_decode import cents_to_hz, hz_to_cents
from pitch.smoothing import median_filter

HOP_SECONDS = 0.01
CONTOUR_MS = 310
OFF_CONTOUR_CENTS = 100.0
OCTAVE_TOLERANCE_CENTS = 300.0
MAX_OCTAVE_MS = 150
GLITCH_CENTS = 250.0
MAX_GLITCH_MS = 80
RAMP_FRAMES = 2  # half the width of the extractors' 5-frame mean filter


@dataclass(frozen=True)
class Repair:
    start: float  # seconds
    end: float
    kind: str  # "octave" or "glitch"
    octaves: int = 0  # how far an octave error was off (+1: one octave too high)

    def __str__(self):
        what = f"octave error ({self.octaves:+d})" if self.kind == "octave" else "glitch"
        return f"{self.start:.2f}-{self.end:.2f} s {what}"


def _runs(mask):
    """[(start, stop)] of the True runs of a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _widen(offset, voiced, a, b):
    """Grow the run [a, b) by up to RAMP_FRAMES frames each side while the offset keeps falling
    towards the contour with the same sign: the ramps a smoothing filter spreads around an error."""
    for _ in range(RAMP_FRAMES):
        i = a - 1
        if i >= 0 and voiced[i] and 0 < offset[i] / offset[a] < 1 and abs(offset[i]) > OFF_CONTOUR_CENTS / 4:
            a = i
        j = b
        if j < len(offset) and voiced[j] and 0 < offset[j] / offset[b - 1] < 1 and abs(offset[j]) > OFF_CONTOUR_CENTS / 4:
            b = j + 1
    return a, b


def _bridge(cents, bad, lo, hi):
    """Replace cents[bad] inside [lo, hi) by the line between the nearest good frames of that span."""
    idx = np.arange(lo, hi)
    good = ~bad[lo:hi]
    if good.any():
        cents[lo:hi][~good] = np.interp(idx[~good], idx[good], cents[lo:hi][good])


def repair_f0(f0, hop_seconds=HOP_SECONDS, max_octave_ms=MAX_OCTAVE_MS, max_glitch_ms=MAX_GLITCH_MS):
    """f0 [T] Hz (0 = unvoiced) -> (repaired float32 [T], [Repair] in time order)."""
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = f0 > 0
    if not voiced.any():
        return f0.astype(np.float32), []
    cents = np.full(len(f0), np.nan)
    cents[voiced] = hz_to_cents(f0[voiced])
    width = max(3, int(round(CONTOUR_MS / 1000 / hop_seconds)) | 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows in long silences
        contour = median_filter(cents, width)  # NaN where no voiced frame is near
    offset = cents - contour
    off = voiced & (np.abs(offset) > OFF_CONTOUR_CENTS)

    out = cents.copy()
    repairs = []
    for core_a, core_b in _runs(off):
        a, b = _widen(offset, voiced, core_a, core_b)
        reference = float(np.nanmedian(contour[a:b]))
        neighbours = [i for i in (a - 1, b) if 0 <= i < len(f0) and voiced[i]]
        if not neighbours or any(abs(cents[i] - reference) > OFF_CONTOUR_CENTS for i in neighbours):
            continue  # not isolated: a leap to another note, or a voiced island of its own
        seconds = (core_b - core_a) * hop_seconds
        core = offset[core_a:core_b]
        typical = float(np.median(core[np.abs(core) >= 0.5 * np.abs(core).max()]))  # the plateau, not the ramps
        octaves = int(round(typical / 1200.0))
        lo, hi = min(neighbours[0], a), max(neighbours[-1], b - 1) + 1  # the run with its neighbours
        if octaves and abs(typical - 1200.0 * octaves) <= OCTAVE_TOLERANCE_CENTS and seconds <= max_octave_ms / 1000:
            shift = 1200.0 * octaves
            moved = np.abs(offset[a:b] - shift) < np.abs(offset[a:b])  # frames nearer the octave than the contour
            out[a:b] -= np.where(moved, shift, 0.0)
            still_off = np.zeros(len(f0), bool)
            still_off[a:b] = np.abs(out[a:b] - contour[a:b]) > OFF_CONTOUR_CENTS
            _bridge(out, still_off, lo, hi)
            repairs.append(Repair(a * hop_seconds, b * hop_seconds, "octave", octaves))
        elif np.max(np.abs(offset[a:b])) >= GLITCH_CENTS and seconds <= max_glitch_ms / 1000:
            bad = np.zeros(len(f0), bool)
            bad[a:b] = True
            _bridge(out, bad, lo, hi)
            repairs.append(Repair(a * hop_seconds, b * hop_seconds, "glitch"))

    repaired = np.zeros(len(f0))
    repaired[voiced] = cents_to_hz(out[voiced])
    return repaired.astype(np.float32), repairs


def describe(repairs):
    """One line for the console: how many spans were repaired, and where."""
    if not repairs:
        return "pitch repair: nothing to repair"
    return f"pitch repair: {len(repairs)} span(s) repaired: " + "; ".join(map(str, repairs))
