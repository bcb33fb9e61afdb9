"""Slaney-style mel filterbank (librosa.filters.mel's default) in plain numpy, for Whisper, FCPE, the
speaker encoder and the training spectrogram: it saves the ~0.8 s that librosa and scipy.signal take to
import at every conversion's start. Slaney's mel scale is linear below 1 kHz (200/3 Hz per mel) and
logarithmic above (27 mels per factor 6.4). Band i is a triangle over the FFT bins rising from edge i
to edge i + 1 and falling to edge i + 2, the n_mels + 2 edges evenly spaced in mel between fmin and
fmax; each triangle is scaled by 2 / (its width in Hz) so every band has the same area. `htk=True`
spaces the edges on the HTK mel scale instead (2595 log10(1 + f / 700), what RMVPE was trained with,
librosa's `htk=True`); the triangles and their scaling stay the same."""
import numpy as np

_HZ_PER_MEL = 200.0 / 3.0
_LOG_START_HZ = 1000.0
_LOG_START_MEL = _LOG_START_HZ / _HZ_PER_MEL
_MELS_PER_LOG = 27.0 / np.log(6.4)


def hz_to_mel(hz, htk=False):
    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    logarithmic = _LOG_START_MEL + np.log(np.maximum(hz, _LOG_START_HZ) / _LOG_START_HZ) * _MELS_PER_LOG
    return np.where(hz >= _LOG_START_HZ, logarithmic, hz / _HZ_PER_MEL)


def mel_to_hz(mel, htk=False):
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    logarithmic = _LOG_START_HZ * np.exp((mel - _LOG_START_MEL) / _MELS_PER_LOG)
    return np.where(mel >= _LOG_START_MEL, logarithmic, mel * _HZ_PER_MEL)


def mel_filters(sr, n_fft, n_mels, fmin=0.0, fmax=None, htk=False):
    """[n_mels, n_fft // 2 + 1] float32 weights mapping a power or magnitude spectrum to mel bands."""
    fmax = sr / 2.0 if fmax is None else float(fmax)
    bins = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    low, high = hz_to_mel(fmin, htk), hz_to_mel(fmax, htk)
    edges = mel_to_hz(np.linspace(low, high, n_mels + 2), htk)                  # [n_mels + 2] Hz
    widths = np.diff(edges)                                                      # [n_mels + 1]
    offsets = edges[:, None] - bins[None, :]                                     # [n_mels + 2, bins]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)
