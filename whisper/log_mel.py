"""Whisper's log-mel front end: 16 kHz audio -> [n_mels, samples // 160] normalised log power mel."""
import torch

from common.audio import EXTRACT_RATE
from common.mel_filters import mel_filters as slaney_mel_filters

N_FFT = 400
HOP = 160


def mel_filters(n_mels, device):
    """[n_mels, N_FFT // 2 + 1]: the filters OpenAI ships in mel_filters.npz (librosa's Slaney filters)."""
    return torch.from_numpy(slaney_mel_filters(EXTRACT_RATE, N_FFT, n_mels)).to(device)


def log_mel(wav, n_mels, filters=None):
    """wav: float tensor [samples] -> [n_mels, samples // 160]; centred Hann STFT whose last frame is
    dropped, as Whisper does."""
    if wav.shape[-1] <= N_FFT // 2:  # reflect padding needs more samples than half a window
        wav = torch.nn.functional.pad(wav, (0, N_FFT // 2 + 1 - wav.shape[-1]))
    window = torch.hann_window(N_FFT, device=wav.device)
    spec = torch.stft(wav.float(), N_FFT, HOP, window=window, center=True, pad_mode="reflect",
                      return_complex=True)  # [N_FFT // 2 + 1, frames + 1]
    power = spec[..., :-1].abs().square()
    if filters is None:
        filters = mel_filters(n_mels, wav.device)
    mel = filters @ power  # [n_mels, frames]
    logs = mel.clamp(min=1e-10).log10()
    logs = torch.maximum(logs, logs.max() - 8.0)
    return (logs + 4.0) / 4.0
