"""Non-neural F0 trackers: WORLD harvest/dio (+ stonemask), Praat autocorrelation, librosa pYIN.

Each returns Hz at 100 Hz frames centred on n * 10 ms, 0 for unvoiced; its optional library loads on use.
"""
import numpy as np

from common.audio import EXTRACT_RATE

HOP_SECONDS = 0.01


def _need(module, package):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"pitch method needs the optional package {package}: run `pip install {package}`, "
                          f"or use --method crepe.") from None


def world(wav, fmin, fmax, method="harvest"):
    pyworld = _need("pyworld", "pyworld")
    x = np.asarray(wav, dtype=np.float64)
    track = pyworld.harvest if method == "harvest" else pyworld.dio
    f0, times = track(x, EXTRACT_RATE, f0_floor=fmin, f0_ceil=fmax, frame_period=HOP_SECONDS * 1000)
    return pyworld.stonemask(x, f0, times, EXTRACT_RATE)


def praat(wav, fmin, fmax):
    parselmouth = _need("parselmouth", "praat-parselmouth")
    sound = parselmouth.Sound(np.asarray(wav, dtype=np.float64), sampling_frequency=EXTRACT_RATE)
    pitch = sound.to_pitch_ac(time_step=HOP_SECONDS, voicing_threshold=0.6, pitch_floor=fmin, pitch_ceiling=fmax)
    values = pitch.selected_array["frequency"]
    # Praat's frames start at its own offset; pick the nearest one for each 10 ms grid point
    count = 1 + len(wav) // int(EXTRACT_RATE * HOP_SECONDS)
    if len(values) == 0:
        return np.zeros(count)
    grid = np.arange(count) * HOP_SECONDS
    nearest = np.rint((grid - pitch.xs()[0]) / pitch.time_step).astype(int)
    inside = (nearest >= 0) & (nearest < len(values))
    out = np.zeros(count)
    out[inside] = values[nearest[inside]]
    return out


def pyin(wav, fmin, fmax):
    librosa = _need("librosa", "librosa")
    f0, _, _ = librosa.pyin(np.asarray(wav, dtype=np.float32), fmin=fmin, fmax=fmax, sr=EXTRACT_RATE,
                            frame_length=1024, hop_length=int(EXTRACT_RATE * HOP_SECONDS), center=True)
    return np.nan_to_num(f0, nan=0.0)


METHODS = {
    "harvest": lambda wav, lo, hi: world(wav, lo, hi, "harvest"),
    "dio": lambda wav, lo, hi: world(wav, lo, hi, "dio"),
    "pm": praat,
    "pyin": pyin,
}
