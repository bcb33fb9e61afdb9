"""Voice-activity detection without a downloaded model, and silencing converted audio with it: a 10 ms
frame is active when its level is within `range_db` of the file's loud frames and above a floor; with
`periodicity=True` an active stretch also needs some pitched frames (no breaths, clicks, hum).
Stretches are padded (pre-roll, hangover), short gaps bridged, and the gain fades in and out."""
from dataclasses import dataclass

import numpy as np

FRAME_RATE = 100  # frames per second


def frame_signal(wav, sr, win_seconds=0.025):
    """[frames, win] windows centred on every 10 ms tick (zero padded at the ends)."""
    hop = sr // FRAME_RATE
    win = int(round(win_seconds * sr))
    frames = max(1, int(np.ceil(len(wav) / hop)))
    padded = np.pad(np.asarray(wav, dtype=np.float64), (win // 2, win + frames * hop))
    idx = np.arange(frames)[:, None] * hop + np.arange(win)[None, :]
    return padded[idx]


def frame_level_db(frames):
    rms = np.sqrt(np.mean(frames ** 2, axis=1) + 1e-12)
    return 20.0 * np.log10(rms + 1e-12)


def frame_periodicity(frames, sr, fmin=60.0, fmax=1100.0):
    """Highest normalised autocorrelation over lags of fmin..fmax Hz, per frame (0..1)."""
    x = frames - frames.mean(axis=1, keepdims=True)
    x = x * np.hanning(x.shape[1])[None, :]
    n = x.shape[1]
    spec = np.fft.rfft(x, 2 * n, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    # unbias: the windowed signal's own autocorrelation shrinks with the lag
    w = np.hanning(n)
    wacf = np.correlate(w, w, mode="full")[n - 1:]
    acf = acf / np.maximum(wacf[None, :], 1e-6) * wacf[0]
    lo, hi = int(sr / fmax), min(int(sr / fmin), n - 1)
    peak = acf[:, lo:hi + 1].max(axis=1)
    return np.clip(peak / np.maximum(acf[:, 0], 1e-12), 0.0, 1.0)


def runs(mask):
    """[(start, end)] of the True stretches of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


@dataclass
class Vad:
    range_db: float = 40.0
    floor_db: float = -60.0
    periodicity: bool = False
    min_periodicity: float = 0.5
    min_pitched_ms: int = 30
    preroll_ms: int = 30
    hangover_ms: int = 150
    min_gap_ms: int = 100


def voice_mask(wav, sr, **options):
    """Boolean voice activity per 10 ms frame of `wav` (mono float at `sr`); `options`: the fields of Vad."""
    o = Vad(**options)
    frames = frame_signal(wav, sr)
    level = frame_level_db(frames)
    active = (level > np.percentile(level, 95) - o.range_db) & (level > o.floor_db)
    if o.periodicity and active.any():
        pitched = frame_periodicity(frames, sr) >= o.min_periodicity
        need = max(1, o.min_pitched_ms // 10)
        for start, end in runs(active):
            if pitched[start:end].sum() < need:
                active[start:end] = False
    mask = active.copy()
    pre, post = o.preroll_ms // 10, o.hangover_ms // 10
    for start, end in runs(active):
        mask[max(0, start - pre):min(len(mask), end + post)] = True
    gap = o.min_gap_ms // 10
    for start, end in runs(~mask):
        if 0 < start and end < len(mask) and end - start < gap:
            mask[start:end] = True
    return mask


def mask_to_gain(mask, sr, length, fade_ms=10.0):
    """Per-sample gain [length] at `sr`: the frame mask held per 10 ms, with raised-cosine fades."""
    hop = sr // FRAME_RATE
    gain = np.repeat(mask.astype(np.float64), hop)
    gain = np.pad(gain, (0, max(0, length - len(gain))))[:length]
    fade = max(1, int(round(fade_ms * sr / 1000.0)))
    kernel = np.hanning(fade + 2)[1:-1]
    kernel /= kernel.sum()
    # centred smoothing turns each step into a raised-cosine ramp of `fade` samples
    return np.clip(np.convolve(gain, kernel, mode="same"), 0.0, 1.0)


def silence_unvoiced(ref, ref_sr, svc, svc_sr, fade_ms=10.0, **vad_options):
    """Zero `svc` where the reference `ref` has no voice. Returns float32 of len(svc)."""
    gain = mask_to_gain(voice_mask(ref, ref_sr, **vad_options), svc_sr, len(svc), fade_ms=fade_ms)
    return (np.asarray(svc, dtype=np.float64) * gain).astype(np.float32)
