"""Protect consonants and breaths from feature retrieval (RVC's `protect`).

Retrieval smears unvoiced consonants and breaths (the training set holds few of them). With protect
P < 0.5 each frame takes the retrieved features in proportion to how voiced it is:

    share = v + (1 - v) * P          v in [0, 1]: 1 on clearly pitched frames, 0 on unvoiced ones
    out   = share * retrieved + (1 - share) * own

so voiced frames are untouched and an unvoiced frame keeps 1 - P of its own features.
P = 0.5 turns protection off, as in RVC. Breathy frames (weakly periodic) get a v in between.
"""
import numpy as np

from pitch.smoothing import fit_length
from svc.vad import frame_level_db, frame_periodicity, frame_signal

PROTECT_OFF = 0.5
UNVOICED_PERIODICITY, VOICED_PERIODICITY = 0.3, 0.6   # v ramps from 0 to 1 between these
SILENCE_DB = -60.0                                     # quieter frames count as unvoiced


class ProtectError(ValueError):
    """A bad protect setting or missing input to judge voicing from."""


def check_protect(protect):
    if isinstance(protect, bool) or not isinstance(protect, (int, float)) or not 0.0 <= protect <= PROTECT_OFF:
        raise ProtectError(f"protect {protect!r}: choose a value in [0, 0.5] (0 keeps unvoiced frames fully "
                           f"their own, 0.5 turns protection off).")


def _content_rate(per_10ms, frames):
    """A [M] 100 Hz track -> `frames` values at the 50 Hz content rate (pair means, then trimmed or
    padded with the last value)."""
    v = np.asarray(per_10ms, dtype=np.float32)
    v = v[:len(v) // 2 * 2].reshape(-1, 2).mean(axis=1) if len(v) > 1 else v
    return fit_length(v, frames)


def voicing_from_audio(wav16k, frames, sr=16000):
    """Voicing v in [0, 1] per content frame (20 ms, `frames` of them) from the audio's periodicity."""
    windows = frame_signal(wav16k, sr, win_seconds=0.04)               # [100 Hz frames, win]
    ramp = (frame_periodicity(windows, sr) - UNVOICED_PERIODICITY) / (VOICED_PERIODICITY - UNVOICED_PERIODICITY)
    return _content_rate(np.clip(ramp, 0.0, 1.0) * (frame_level_db(windows) > SILENCE_DB), frames)


def voicing_from_f0(f0, frames):
    """Voicing per content frame from a 100 Hz pitch track with 0 on unvoiced frames."""
    return _content_rate(np.asarray(f0) > 0, frames)


def protect_blend(own, retrieved, voicing, protect):
    """own, retrieved [N, D] -> [N, D]; voicing [N] in [0, 1]."""
    check_protect(protect)
    if protect >= PROTECT_OFF:
        return retrieved
    share = voicing + (1.0 - voicing) * np.float32(protect)               # [N]
    share = np.asarray(share, dtype=np.float32)[:, None]                  # [N, 1]
    return share * retrieved + (np.float32(1) - share) * np.asarray(own, dtype=np.float32)


def protected_retrieval(retrieval, ppg, vec, protect, wav16k=None, f0=None):
    """`retrieval(ppg, vec)` (content at 50 Hz, [N, dim]) with unvoiced frames protected.

    Voicing comes from the source audio when given, else from a pitch track with 0 on unvoiced
    frames (a conversion pitch track bridges its gaps, so it cannot tell)."""
    check_protect(protect)
    blended_ppg, blended_vec = retrieval(ppg, vec)
    if protect >= PROTECT_OFF:
        return blended_ppg, blended_vec
    if wav16k is not None:
        voicing = voicing_from_audio(wav16k, len(ppg))
    elif f0 is not None and (np.asarray(f0) <= 0).any():
        voicing = voicing_from_f0(f0, len(ppg))
    else:
        raise ProtectError("protect needs the source audio, or a pitch track with 0 on unvoiced frames, to "
                           "tell which frames are unvoiced.")
    return protect_blend(ppg, blended_ppg, voicing, protect), protect_blend(vec, blended_vec, voicing, protect)
