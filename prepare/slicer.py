"""Cut long recordings at their pauses into clips Whisper can take whole (it reads at most 30 s).

The level is measured every 10 ms (RMS over 40 ms, in dB below the loudest frame). Every 100 ms block
offers one cut candidate, its quietest frame, costing its level above the floor (cheap in a pause, dear
through a note) plus a small price per piece; dynamic programming picks the cheapest cuts whose pieces
all last `min_seconds` to `max_seconds`, so a stretch without any pause is still cut, at its quietest.
Silence beyond `keep_silence` at a piece's ends is trimmed (never below `min_seconds`); pieces with no
sound above the threshold are dropped.
"""
import numpy as np

WHISPER_SECONDS = 30.0   # Whisper's window: a clip longer than this is cut up by the extractor
DEFAULT_MAX_SECONDS = 15.0
DEFAULT_MIN_SECONDS = 2.0
FRAME_SECONDS = 0.01     # level hop
WINDOW_SECONDS = 0.04    # level window
BLOCK_FRAMES = 10        # one cut candidate per 100 ms
FLOOR_DB = -80.0         # levels are clipped here; a cut at this level costs nothing
PIECE_COST = 3.0         # dB-equivalent price of one more piece (prefers fewer, longer pieces)


class SliceError(ValueError):
    """Impossible slicing settings."""


def check_limits(min_seconds, max_seconds):
    if not 0 < max_seconds <= WHISPER_SECONDS:
        raise SliceError(f"slice length {max_seconds} s: choose a limit in (0, {WHISPER_SECONDS:g}] s "
                         f"(Whisper reads at most {WHISPER_SECONDS:g} s at once).")
    if not 0 < min_seconds <= max_seconds / 2:
        raise SliceError(f"shortest piece {min_seconds} s must be positive and at most half the limit "
                         f"({max_seconds} s), or some lengths could not be cut at all.")


def frame_levels(wav, sr):
    """Level in dB relative to the loudest frame, one value per 10 ms: [ceil(len / hop)]."""
    hop = max(1, int(round(FRAME_SECONDS * sr)))
    half = max(1, int(round(WINDOW_SECONDS * sr))) // 2
    power = np.concatenate([[0.0], np.cumsum(np.asarray(wav, dtype=np.float64) ** 2)])
    centres = np.arange(0, len(wav), hop)
    lo, hi = np.clip(centres - half, 0, len(wav)), np.clip(centres + half, 0, len(wav))
    mean_power = (power[hi] - power[lo]) / np.maximum(hi - lo, 1)
    db = 10.0 * np.log10(mean_power + 1e-12)
    return np.maximum(db - db.max(), FLOOR_DB), hop


def choose_cuts(level, hop, sr, min_seconds, max_seconds):
    """Sample positions of the cheapest valid cuts (excluding 0 and the end)."""
    total = len(level)
    # the candidates: the quietest frame of every block
    frames = np.array([b + int(np.argmin(level[b:b + BLOCK_FRAMES])) for b in range(0, total, BLOCK_FRAMES)])
    frames = frames[frames > 0]
    points = np.concatenate([[0], frames, [total]])      # frame positions
    cost = np.concatenate([[0.0], level[frames] - FLOOR_DB + PIECE_COST, [0.0]])
    lo_gap, hi_gap = min_seconds * sr / hop, max_seconds * sr / hop
    best = np.full(len(points), np.inf)
    back = np.zeros(len(points), dtype=np.int64)
    best[0] = 0.0
    for j in range(1, len(points)):
        first = int(np.searchsorted(points, points[j] - hi_gap))   # earlier points are too far back
        gap = points[j] - points[first:j]
        ok = (gap >= lo_gap) & np.isfinite(best[first:j])
        if ok.any():
            i = first + int(np.argmin(np.where(ok, best[first:j], np.inf)))
            best[j], back[j] = best[i] + cost[j], i
    if not np.isfinite(best[-1]):  # a candidate grid too coarse for the limits (tiny max_seconds)
        raise SliceError(f"cannot cut {total * hop / sr:.1f} s into pieces of {min_seconds}-{max_seconds} s.")
    cuts, j = [], len(points) - 1
    while j:
        j = back[j]
        if j:
            cuts.append(int(points[j]) * hop)
    return sorted(cuts)


def trim_silence(start, end, level, hop, sr, threshold_db, keep_silence, min_seconds):
    """Shrink [start, end) past silence at both ends, keeping `keep_silence` s and `min_seconds`."""
    first, last = start // hop, min(len(level), -(-end // hop))
    loud = np.flatnonzero(level[first:last] > threshold_db)
    if not len(loud):
        return None
    pad = int(round(keep_silence * sr))
    new_start = max(start, (first + loud[0]) * hop - pad)
    new_end = min(end, (first + loud[-1] + 1) * hop + pad)
    need = int(round(min_seconds * sr))
    if new_end - new_start < need:  # give back silence, first after the sound, then before it
        new_end = min(end, new_start + need)
        new_start = max(start, new_end - need)
    return int(new_start), int(new_end)


def slice_ranges(wav, sr, max_seconds=DEFAULT_MAX_SECONDS, min_seconds=DEFAULT_MIN_SECONDS,
                 threshold_db=-40.0, keep_silence=0.3):
    """[(start, end)] sample ranges of the pieces of `wav` (mono). A recording no longer than
    `max_seconds` comes back whole: [(0, len(wav))]."""
    check_limits(min_seconds, max_seconds)
    if len(wav) <= max_seconds * sr:
        return [(0, len(wav))]
    level, hop = frame_levels(wav, sr)
    bounds = [0] + choose_cuts(level, hop, sr, min_seconds, max_seconds) + [len(wav)]
    pieces = [trim_silence(start, end, level, hop, sr, threshold_db, keep_silence, min_seconds)
              for start, end in zip(bounds[:-1], bounds[1:])]
    return [piece for piece in pieces if piece is not None]


def piece_name(stem, index):
    return f"{stem}_{index:03d}"
