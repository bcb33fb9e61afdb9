"""Harmonic-plus-noise excitation for the neural source-filter (NSF) decoder."""
import math

import torch
from torch import nn
from torch.nn import functional as F

# Fixed merge of the 11 harmonics into one excitation, as in the public release (where these are
# buffers, not trained); checkpoints carry them as dec.m_source.merge_w / merge_b.
PUBLIC_MERGE_W = [0.2942, -0.2243, 0.0033, -0.0056, -0.0020, -0.0046, 0.0221, -0.0083, -0.0241, -0.0036, -0.0581]
PUBLIC_MERGE_B = [0.0008]
BLOCK_SAMPLES = 1 << 18  # samples of harmonics made at once (about 8 s at 32 kHz)


class SineGen(nn.Module):
    """f0 [B, N, 1] at audio rate -> [B, N, 1 + n_overtones] sines plus noise.

    Voiced samples (f0 > threshold) carry sine_amp-scaled sines of f0 * (1..n+1) plus N(0, noise_std)
    noise; unvoiced samples carry only noise of std sine_amp / 3. Overtones start at a random phase.
    """

    def __init__(self, sampling_rate, n_overtones=10, sine_amp=0.1, noise_std=0.003, voiced_threshold=0.0):
        super().__init__()
        self.sampling_rate = sampling_rate
        self.n_harmonics = n_overtones + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold

    def start_phase(self, batch, device):
        """Random starting phase in cycles [B, H]; the fundamental starts at 0."""
        start = torch.rand(batch, self.n_harmonics, device=device)
        start[:, 0] = 0.0
        return start

    def _phase(self, freqs, start):
        """Per-sample phase in cycles of [B, N, H] frequencies that begins at `start` [B, H],
        kept small for float32 accuracy."""
        # the running sums go along the last axis of a [B, H, N] copy: CUDA's scan over a middle
        # axis with 11 columns beside it took 75% of a 5-minute song's GPU time
        step = ((freqs / self.sampling_rate) % 1.0).transpose(1, 2).contiguous()  # [B, H, N]
        step[:, :, 0] = step[:, :, 0] + start
        # A running sum of steps grows without bound and loses precision; subtract one cycle
        # wherever the wrapped sum wraps, so the corrected sum stays within a few cycles.
        wrapped = torch.cumsum(step, dim=-1) % 1.0
        wraps = (wrapped[..., 1:] < wrapped[..., :-1]).to(step.dtype)
        step[..., 1:] = step[..., 1:] - wraps
        return torch.cumsum(step, dim=-1).transpose(1, 2).contiguous()  # [B, N, H]

    @torch.no_grad()
    def block(self, f0, start):
        """f0 [B, n, 1] -> (harmonics [B, n, H], phase [B, H] where the next block starts).

        Successive blocks of one signal continue each other's phase, so a long input can be
        made piecewise in bounded memory."""
        with torch.autocast(device_type=f0.device.type, enabled=False):
            f0 = f0.float()
            multiples = torch.arange(1, self.n_harmonics + 1, device=f0.device, dtype=f0.dtype)
            freqs = f0 * multiples  # [B, n, H]
            phase = self._phase(freqs, start)
            following = phase[:, -1, :] % 1.0
            sines = torch.sin(2 * math.pi * phase) * self.sine_amp
            voiced = (f0 > self.voiced_threshold).to(f0.dtype)  # [B, n, 1]
            noise_amp = voiced * self.noise_std + (1.0 - voiced) * (self.sine_amp / 3.0)
            noise = noise_amp * torch.randn_like(sines)
            return sines * voiced + noise, following

    def forward(self, f0):
        harmonics, _ = self.block(f0, self.start_phase(f0.size(0), f0.device))
        return harmonics


class SourceModuleHnNSF(nn.Module):
    """f0 [B, N, 1] -> excitation [B, N, 1] = tanh(harmonics @ merge_w^T + merge_b)."""

    def __init__(self, sampling_rate=32000, sine_amp=0.1, noise_std=0.003, voiced_threshold=0.0):
        super().__init__()
        self.l_sin_gen = SineGen(sampling_rate, 10, sine_amp, noise_std, voiced_threshold)
        self.register_buffer("merge_w", torch.tensor([PUBLIC_MERGE_W]))
        self.register_buffer("merge_b", torch.tensor(PUBLIC_MERGE_B))

    @torch.no_grad()
    def forward(self, f0, block_samples=BLOCK_SAMPLES):
        """The harmonics of a long input would take 11 floats per sample (5 GB for 5 minutes at
        32 kHz, with temporaries), so they are made and merged `block_samples` at a time."""
        sine_gen = self.l_sin_gen
        phase = sine_gen.start_phase(f0.size(0), f0.device)
        out = torch.empty(f0.size(0), f0.size(1), 1, device=f0.device, dtype=torch.float32)
        for begin in range(0, f0.size(1), block_samples):
            harmonics, phase = sine_gen.block(f0[:, begin:begin + block_samples], phase)  # [B, n, 11]
            merged = F.linear(harmonics, self.merge_w.float(), self.merge_b.float())
            out[:, begin:begin + block_samples] = torch.tanh(merged)
        return out
