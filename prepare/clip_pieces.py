"""Step 1 for one raw recording: cut it at pauses when long, level each piece, write them.

A recording longer than `slice_seconds` becomes `<name>_000.wav`, `<name>_001.wav`, ..., cut once on
the 16 kHz audio so the pieces of every rate line up. Pieces are written last to first: when
`<name>_000.wav` exists, all pieces of that rate are complete.
"""
import os
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from common.audio import EXTRACT_RATE, load_audio, save_audio
from common.loudness import LoudnessError, loudness_gain
from prepare.slicer import DEFAULT_MAX_SECONDS, DEFAULT_MIN_SECONDS, piece_name, slice_ranges

SILENCE_PEAK = 1e-4   # below this the clip holds no usable signal
DEFAULT_PEAK = 0.6    # target peak as a fraction of full scale (the public tool's level)


@dataclass(frozen=True)
class ClipOptions:
    slice_seconds: Optional[float] = DEFAULT_MAX_SECONDS   # None keeps every recording whole
    min_piece_seconds: float = DEFAULT_MIN_SECONDS
    loudnorm: Optional[float] = None                      # LUFS target; None: peak normalisation
    peak: float = DEFAULT_PEAK


class ClipProblem(ValueError):
    """A recording the model cannot use; the message says why and what to do."""


def piece_paths(out_path, count):
    stem, ext = os.path.splitext(out_path)
    return [piece_name(stem, i) + ext for i in range(count)]


def is_written(out_path):
    """True when `out_path` (whole) or its first piece (written last) exists."""
    return os.path.exists(out_path) or os.path.exists(piece_paths(out_path, 1)[0])


def read_audio(src, sr):
    with warnings.catch_warnings():  # a fallback reader's warnings: the outcome says what went wrong
        warnings.simplefilter("ignore")
        return load_audio(src, sr)


def level(wav, sr, options):
    """(levelled wav, note): to a peak (the public tool's 0.6 of full scale) or, with `loudnorm`, to an
    integrated loudness in LUFS, never past 0.99 of full scale."""
    top = float(np.max(np.abs(wav)))
    if top < SILENCE_PEAK:
        raise ClipProblem(f"silent (peak {top:.1e}): nothing to learn from; remove it")
    if options.loudnorm is None:
        return wav * (options.peak / top), ""
    try:
        gain, note = loudness_gain(wav, sr, options.loudnorm)
    except LoudnessError as e:
        raise ClipProblem(str(e)) from None
    return wav * gain, note


def write_clip(src, targets, options, min_seconds=0.5, max_seconds=30.0):
    """Write `src` at each (out_path, rate) of `targets` not written yet, whole or in pieces. Returns a
    warning text ('' when none; None when all was written); raises ClipProblem (or AudioError)."""
    todo = [(path, sr) for path, sr in targets if not is_written(path)]
    if not todo:
        return None
    spans, wav16 = None, None  # 16 kHz ranges of the pieces (None: whole); the 16 kHz audio read to find them
    if options.slice_seconds is not None:
        wav16 = read_audio(src, EXTRACT_RATE)
        if len(wav16) > options.slice_seconds * EXTRACT_RATE:
            spans = slice_ranges(wav16, EXTRACT_RATE, options.slice_seconds, options.min_piece_seconds)
    if spans == []:
        raise ClipProblem("silent: no piece holds sound above the slicing threshold; remove it")
    notes = set()
    for path, sr in todo:
        wav = wav16 if sr == EXTRACT_RATE and wav16 is not None else read_audio(src, sr)  # one read at 16 kHz
        seconds = len(wav) / sr
        if seconds < min_seconds:
            raise ClipProblem(f"too short ({seconds:.2f} s < {min_seconds} s): the model cannot use it; "
                              f"remove it or join it with a neighbouring clip")
        if spans is None:
            pieces, paths = [wav], [path]
            if seconds > max_seconds:
                notes.add(f"long clip ({seconds:.0f} s > {max_seconds:.0f} s): it is processed in chunks; "
                          f"leave slicing on (no --no-slice) to cut it at its pauses")
        else:
            scale = sr / EXTRACT_RATE
            pieces = [wav[int(round(a * scale)):int(round(b * scale))] for a, b in spans]
            paths = piece_paths(path, len(pieces))
        levelled = [level(piece, sr, options) for piece in pieces]
        for out, (piece, note) in reversed(list(zip(paths, levelled))):
            save_audio(out, piece, sr)
            notes.add(note)
    return "; ".join(sorted(notes - {""}))
