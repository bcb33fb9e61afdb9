"""Pitch quantisation for the content encoder's pitch embedding."""
import numpy as np
import torch

F0_BINS = 256
F0_MIN = 50.0
F0_MAX = 1100.0


def _hz_to_mel(hz):
    return 1127.0 * np.log(1.0 + hz / 700.0)


MEL_MIN = _hz_to_mel(F0_MIN)
MEL_MAX = _hz_to_mel(F0_MAX)


def f0_to_coarse(f0):
    """Hz -> integer bins 1..255 spaced evenly on the mel scale over 50..1100 Hz.

    0 Hz (unvoiced) and anything at or below 50 Hz -> 1; 1100 Hz and above -> 255.
    Accepts a torch tensor (returns int64 tensor on the same device) or a numpy array.
    """
    if isinstance(f0, torch.Tensor):
        mel = 1127.0 * torch.log1p(f0.float() / 700.0)
        scaled = (mel - MEL_MIN) * (F0_BINS - 2) / (MEL_MAX - MEL_MIN) + 1.0
        scaled = torch.where(mel > 0, scaled, mel).clamp(1.0, F0_BINS - 1)
        return (scaled + 0.5).long()
    mel = _hz_to_mel(np.asarray(f0, dtype=np.float64))
    scaled = (mel - MEL_MIN) * (F0_BINS - 2) / (MEL_MAX - MEL_MIN) + 1.0
    scaled = np.clip(np.where(mel > 0, scaled, mel), 1.0, F0_BINS - 1)
    return np.floor(scaled + 0.5).astype(np.int64)
