"""Linear and mel magnitude spectrograms, shared by preprocessing, training and inference.

The linear spectrogram is what the posterior encoder reads (`data_svc/specs/*.pt`); the mel
spectrogram is what the mel loss compares. The two floor the magnitude differently, as the public
so-vits-svc-5.0 code does: sqrt(power + 1e-6) for the posterior encoder's input (VITS), sqrt(power +
1e-9) for the mel loss and the validation mel (its TacotronSTFT). The floor matters in silences:
with 1e-6 a quiet noise floor over a silent target costs 2.4x less mel loss. With `center=False` the signal is reflect-padded by
(n_fft - hop) / 2 on both sides, so a clip of T samples gives exactly T // hop frames.
"""
import torch

from common.mel_filters import mel_filters

SPEC_FLOOR = 1e-6  # posterior encoder input (data_svc/specs/*.pt)
MEL_LOSS_FLOOR = 1e-9  # mel loss and validation mel

_windows = {}
_mel_bases = {}


def _hann(win_size, device, dtype):
    key = (win_size, str(device), dtype)
    if key not in _windows:
        _windows[key] = torch.hann_window(win_size, device=device, dtype=dtype)
    return _windows[key]


def _mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax, device, dtype):
    key = (sampling_rate, n_fft, num_mels, fmin, fmax, str(device), dtype)
    if key not in _mel_bases:
        basis = mel_filters(sampling_rate, n_fft, num_mels, fmin, fmax)
        _mel_bases[key] = torch.from_numpy(basis).to(device=device, dtype=dtype)  # [mels, n_fft//2+1]
    return _mel_bases[key]


def spectrogram_torch(y, n_fft, hop_size, win_size, center=False, floor=SPEC_FLOOR):
    """Magnitude STFT. y [B, T] float in [-1, 1] -> [B, n_fft // 2 + 1, frames].

    Magnitude is sqrt(re^2 + im^2 + floor) (1e-6 as in VITS), so its gradient is finite at zero.
    """
    if y.dim() == 1:
        y = y.unsqueeze(0)
    if y.dim() != 2:
        raise ValueError(f"spectrogram_torch expects audio [B, T], got shape {tuple(y.shape)}")
    if y.dtype not in (torch.float32, torch.float64):
        y = y.float()
    if not center:
        pad = (n_fft - hop_size) // 2
        # reflect padding needs 3-D input: [B, 1, T + 2 * pad]
        y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    stft = torch.stft(
        y,
        n_fft,
        hop_length=hop_size,
        win_length=win_size,
        window=_hann(win_size, y.device, y.dtype),
        center=center,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )  # [B, n_fft // 2 + 1, frames] complex
    return torch.sqrt(stft.real.pow(2) + stft.imag.pow(2) + floor)


def spec_to_mel_torch(spec, n_fft, num_mels, sampling_rate, fmin, fmax):
    """Linear magnitude [B, n_fft // 2 + 1, frames] -> log-mel [B, num_mels, frames]."""
    basis = _mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax, spec.device, spec.dtype)
    mel = torch.matmul(basis, spec)
    return torch.log(torch.clamp(mel, min=1e-5))


def mel_spectrogram_torch(y, n_fft, num_mels, sampling_rate, hop_size, win_size, fmin, fmax, center=False,
                          floor=MEL_LOSS_FLOOR):
    """Log-mel spectrogram of the mel loss (natural log of the mel magnitude clamped at 1e-5, the
    linear magnitude floored at sqrt(power + 1e-9) as the public loss does). y [B, T] -> [B, num_mels, frames]."""
    spec = spectrogram_torch(y, n_fft, hop_size, win_size, center=center, floor=floor)
    return spec_to_mel_torch(spec, n_fft, num_mels, sampling_rate, fmin, fmax)
