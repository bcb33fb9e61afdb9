"""FCPE's input features: natural-log mel magnitudes of 16 kHz audio, one frame per 10 ms.

1024-sample Hann window, 1024-point FFT, 128 Slaney mel bands from 0 to 8 kHz (librosa's filters, common.mel_filters),
magnitudes |X| floored at 1e-5 before the log. Frame n starts 432 samples before sample n * 160
(centred half a hop after it), as the network was trained: its estimate for frame n then matches the
pitch at n * 10 ms, the toolkit's 100 Hz grid (centring the window on n * 160 instead doubles the
error on vibrato, measured 4.7 vs 2.4 cents).
"""
import torch
import torch.nn.functional as F

from common.audio import EXTRACT_RATE as SAMPLE_RATE
from common.mel_filters import mel_filters

N_FFT = 1024
HOP = 160
N_MELS = 128
FMIN, FMAX = 0.0, 8000.0
LOG_FLOOR = 1e-5


class LogMel(torch.nn.Module):
    def __init__(self, n_mels=N_MELS, sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop=HOP, fmin=FMIN, fmax=FMAX):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        basis = mel_filters(sample_rate, n_fft, n_mels, fmin, fmax)
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)  # [M, n_fft/2 + 1]
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @torch.no_grad()
    def forward(self, wav):
        """wav [N] float -> [1 + N // hop, M] log-mel."""
        left = (self.n_fft - self.hop) // 2
        x = wav.reshape(1, 1, -1)
        # reflection needs more samples than the pad; very short clips are zero-padded instead
        x = F.pad(x, (left, self.n_fft - left), mode="reflect" if x.shape[-1] > self.n_fft - left else "constant")
        spec = torch.stft(x[0, 0], self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real.square() + spec.imag.square() + 1e-9)  # [n_fft/2 + 1, T]
        return torch.log((self.basis @ mag).clamp_min(LOG_FLOOR)).T  # [T, M]
