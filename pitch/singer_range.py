"""A singer's F0 range (25th to 75th percentile of its voiced training frames) in a JSON file beside its
timbre vector (`data_svc/singer/<name>.f0.json`), and the smallest whole-semitone shift that brings a
source's median voiced pitch into it (`--auto-shift`)."""
import json
import math
import os

import numpy as np

from common.atomic import write_text

RANGE_SUFFIX = ".f0.json"
MAX_SHIFT = 24  # semitones either way


class RangeError(ValueError):
    """A missing or unreadable singer range file; the message names the file and the fix."""


def range_path(speaker_file):
    """`singer/<name>.spk.npy` (or any `<name>.<ext>`) -> `singer/<name>.f0.json`."""
    folder, base = os.path.split(os.fspath(speaker_file))
    name = base[: -len(".spk.npy")] if base.endswith(".spk.npy") else os.path.splitext(base)[0]
    return os.path.join(folder, name + RANGE_SUFFIX)


def f0_range(pitch_tracks):
    """Statistics of the voiced frames (> 0 Hz) of training pitch arrays; None when none is voiced."""
    voiced = [np.asarray(t, dtype=np.float64).reshape(-1) for t in pitch_tracks]
    voiced = np.concatenate([t[t > 0] for t in voiced]) if voiced else np.zeros(0)
    if voiced.size == 0:
        return None
    p5, p25, p50, p75, p95 = np.percentile(voiced, [5, 25, 50, 75, 95])
    return {"low_hz": round(p25, 2), "high_hz": round(p75, 2), "median_hz": round(p50, 2),
            "p5_hz": round(p5, 2), "p95_hz": round(p95, 2), "voiced_frames": int(voiced.size)}


def write_range(path, stats, note=""):
    record = dict(stats)
    if note:
        record["source"] = note
    write_text(path, json.dumps(record, indent=2) + "\n")


def read_range(path):
    path = os.fspath(path)
    fix = ("Run preprocessing again (svc_preprocessing.py, or prepare/preprocess_speaker_ave.py) to write it, "
           "or give --shift N instead of --auto-shift.")
    if not os.path.isfile(path):
        raise RangeError(f"{path}: the singer's F0 range file is missing. {fix}")
    try:
        with open(path, encoding="utf-8") as f:
            stats = json.load(f)
        low, high = float(stats["low_hz"]), float(stats["high_hz"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RangeError(f"{path}: not a readable F0 range file ({type(e).__name__}: {e}). {fix}") from None
    if not (0 < low <= high and math.isfinite(high)):
        raise RangeError(f"{path}: low_hz {low} and high_hz {high} are not a range of frequencies. {fix}")
    stats.setdefault("median_hz", math.sqrt(low * high))
    return stats


def median_voiced(f0, voiced=None):
    """Median of the voiced frames in Hz (voiced: a mask, else f0 > 0); None when nothing is voiced."""
    f0 = np.asarray(f0, dtype=np.float64)
    mask = f0 > 0 if voiced is None else (np.asarray(voiced, bool) & (f0 > 0))
    return float(np.median(f0[mask])) if mask.any() else None


def choose_shift(source_median_hz, stats):
    """Smallest whole-semitone shift that puts `source_median_hz` inside [low_hz, high_hz]; when no
    shift lands inside (a range narrower than a semitone), the one nearest the singer's median."""
    if not source_median_hz or source_median_hz <= 0:
        return 0
    low, high = float(stats["low_hz"]), float(stats["high_hz"])
    for s in sorted(range(-MAX_SHIFT, MAX_SHIFT + 1), key=lambda s: (abs(s), s)):
        if low <= source_median_hz * 2 ** (s / 12) <= high:
            return s
    target = 12 * math.log2(float(stats["median_hz"]) / source_median_hz)
    return int(max(-MAX_SHIFT, min(MAX_SHIFT, round(target))))
