"""Natural-log mel magnitudes of 16 kHz audio, one frame per 10 ms: FCPE's features (RMVPE's with its own).

FCPE: 1024-sample Hann window, 1024-point FFT, 128 Slaney mel bands from 0 to 8 kHz (librosa's filters,
common.mel_filters), magnitudes |X| floored at 1e-5 before the log. Frame n starts 432 samples before
sample n * 160 (centred half a hop after it), as the network was trained: its estimate for frame n then
matches the pitch at n * 10 ms, the toolkit's 100 Hz grid (centring the window on n * 160 instead
doubles the error on vibrato, measured 4.7 vs 2.4 cents).
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
    """centred: frame n centred on sample n * hop (RMVPE); eps: added to |X|^2 before the square root."""

    def __init__(self, n_mels=N_MELS, sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop=HOP, fmin=FMIN, fmax=FMAX,
                 htk=False, centred=False, eps=1e-9):
        super().__init__()
        self.n_fft, self.hop, self.eps = n_fft, hop, eps
        self.left = n_fft // 2 if centred else (n_fft - hop) // 2
        basis = mel_filters(sample_rate, n_fft, n_mels, fmin, fmax, htk=htk)
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)  # [M, n_fft/2 + 1]
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    @torch.no_grad()
    def forward(self, wav):
        """wav [N] float -> [1 + N // hop, M] log-mel."""
        x = wav.reshape(1, 1, -1)
        right = self.n_fft - self.left
        # reflection needs more samples than the pad; very short clips are zero-padded instead
        x = F.pad(x, (self.left, right), mode="reflect" if x.shape[-1] > right else "constant")
        spec = torch.stft(x[0, 0], self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real.square() + spec.imag.square() + self.eps)  # [n_fft/2 + 1, T]
        return torch.log((self.basis @ mag).clamp_min(LOG_FLOOR)).T  # [T, M]
