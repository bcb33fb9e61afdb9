"""Linear and mel magnitude spectrograms, shared by preprocessing, training and inference.

The magnitude floor differs as in the public so-vits-svc-5.0 code: sqrt(power + 1e-6) for the
posterior encoder's input (`data_svc/specs/*.pt`, VITS), sqrt(power + 1e-9) for the mel loss and
the validation mel (its TacotronSTFT); with 1e-6 a quiet noise floor over a silent target costs
2.4x less mel loss. center=False reflect-pads (n_fft - hop) / 2 per side: T samples, T // hop frames.
"""
import functools

import torch

from common.mel_filters import mel_filters


@functools.lru_cache(maxsize=None)
def _mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax, device, dtype):
    basis = mel_filters(sampling_rate, n_fft, num_mels, fmin, fmax)
    return torch.from_numpy(basis).to(device=device, dtype=dtype)  # [mels, n_fft//2+1]


def spectrogram_torch(y, n_fft, hop_size, win_size, floor=1e-6):
    """Magnitude STFT sqrt(re^2 + im^2 + floor) (1e-6 as in VITS: a finite gradient at zero).
    y [B, T] float in [-1, 1] -> [B, n_fft // 2 + 1, frames]."""
    if y.dim() != 2:
        raise ValueError(f"spectrogram_torch expects audio [B, T], got shape {tuple(y.shape)}")
    if y.dtype not in (torch.float32, torch.float64):
        y = y.float()
    pad = (n_fft - hop_size) // 2
    # reflect padding needs 3-D input: [B, 1, T + 2 * pad]
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win_size, device=y.device, dtype=y.dtype)
    stft = torch.stft(y, n_fft, hop_length=hop_size, win_length=win_size, window=window, center=False,
                      return_complex=True)  # [B, n_fft // 2 + 1, frames] complex
    return torch.sqrt(stft.real.pow(2) + stft.imag.pow(2) + floor)


def mel_spectrogram_torch(y, n_fft, num_mels, sampling_rate, hop_size, win_size, fmin, fmax, floor=1e-9):
    """Log-mel of the mel loss and the validation mel (natural log of the mel magnitude clamped at
    1e-5; magnitude floor sqrt(power + 1e-9) as the public loss). y [B, T] -> [B, num_mels, frames]."""
    spec = spectrogram_torch(y, n_fft, hop_size, win_size, floor=floor)
    basis = _mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax, spec.device, spec.dtype)
    return torch.log(torch.clamp(torch.matmul(basis, spec), min=1e-5))
