"""Harmonic-plus-noise excitation for the neural source-filter (NSF) decoder."""
import math

import torch
from torch import nn
from torch.nn import functional as F

# Fixed merge of the 11 harmonics into one excitation, as in the public release (where these are
# buffers, not trained); checkpoints carry them as dec.m_source.merge_w / merge_b.
PUBLIC_MERGE_W = [0.2942, -0.2243, 0.0033, -0.0056, -0.0020, -0.0046, 0.0221, -0.0083, -0.0241, -0.0036, -0.0581]
PUBLIC_MERGE_B = [0.0008]
HARMONICS = len(PUBLIC_MERGE_W)  # f0 and 10 overtones
SINE_AMP = 0.1
BLOCK_SAMPLES = 1 << 18  # samples of harmonics made at once (about 8 s at 32 kHz)


class SourceModuleHnNSF(nn.Module):
    """f0 [B, N, 1] at audio rate -> excitation [B, N, 1] = tanh(harmonics @ merge_w^T + merge_b), the
    harmonics [B, N, 11] being SINE_AMP-scaled sines of f0 * (1..11) (overtones at a random start phase)
    plus N(0, noise_std) noise where f0 > 0, and noise of std SINE_AMP / 3 elsewhere."""

    def __init__(self, sampling_rate=32000, noise_std=0.003):
        super().__init__()
        self.sampling_rate = sampling_rate
        self.noise_std = noise_std
        self.register_buffer("merge_w", torch.tensor([PUBLIC_MERGE_W]))
        self.register_buffer("merge_b", torch.tensor(PUBLIC_MERGE_B))

    def harmonics(self, f0, start):
        """f0 [B, n, 1], phase in cycles `start` [B, H] -> (harmonics [B, n, H], phase [B, H] where the
        next block starts): successive blocks of one signal continue each other's phase."""
        with torch.autocast(device_type=f0.device.type, enabled=False):
            f0 = f0.float()
            freqs = f0 * torch.arange(1, HARMONICS + 1, device=f0.device, dtype=f0.dtype)  # [B, n, H]
            # the running sums go along the last axis of a [B, H, n] copy: CUDA's scan over a middle
            # axis with 11 columns beside it took 75% of a 5-minute song's GPU time
            step = ((freqs / self.sampling_rate) % 1.0).transpose(1, 2).contiguous()  # [B, H, n]
            step[:, :, 0] = step[:, :, 0] + start
            # A running sum of steps grows without bound and loses float32 precision; subtract one
            # cycle wherever the wrapped sum wraps, so the corrected sum stays within a few cycles.
            wrapped = torch.cumsum(step, dim=-1) % 1.0
            step[..., 1:] = step[..., 1:] - (wrapped[..., 1:] < wrapped[..., :-1]).to(step.dtype)
            phase = torch.cumsum(step, dim=-1).transpose(1, 2).contiguous()  # [B, n, H]
            following = phase[:, -1, :] % 1.0
            sines = torch.sin(2 * math.pi * phase) * SINE_AMP
            voiced = (f0 > 0.0).to(f0.dtype)  # [B, n, 1]
            noise_amp = voiced * self.noise_std + (1.0 - voiced) * (SINE_AMP / 3.0)
            noise = noise_amp * torch.randn_like(sines)
            return sines * voiced + noise, following

    @torch.no_grad()
    def forward(self, f0, block_samples=BLOCK_SAMPLES):
        """The harmonics of a long input would take 11 floats per sample (5 GB for 5 minutes at
        32 kHz, with temporaries), so they are made and merged `block_samples` at a time."""
        # random starting phase in cycles [B, H]; the fundamental starts at 0
        phase = torch.rand(f0.size(0), HARMONICS, device=f0.device)
        phase[:, 0] = 0.0
        out = torch.empty(f0.size(0), f0.size(1), 1, device=f0.device, dtype=torch.float32)
        for begin in range(0, f0.size(1), block_samples):
            harmonics, phase = self.harmonics(f0[:, begin:begin + block_samples], phase)  # [B, n, 11]
            merged = F.linear(harmonics, self.merge_w.float(), self.merge_b.float())
            out[:, begin:begin + block_samples] = torch.tanh(merged)
        return out
