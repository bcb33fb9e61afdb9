"""Whisper audio encoder with OpenAI's parameter names, truncated to the blocks the PPG needs."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid_table(length, width, max_timescale=10000.0):
    """[length, width] sin|cos table, Whisper's fixed audio positional embedding."""
    half = width // 2
    # made on the CPU even while the encoder is built on the meta device: there torch.arange
    # goes through torch._refs, whose first use imports torch._dynamo (0.6 s of start-up)
    rates = torch.exp(-math.log(max_timescale) / (half - 1) * torch.arange(half, dtype=torch.float32, device="cpu"))
    angles = torch.arange(length, dtype=torch.float32, device="cpu")[:, None] * rates[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class SelfAttention(nn.Module):
    """Multi-head self-attention; `key` has no bias, as in Whisper."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width, bias=False)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x):  # x [B, T, C]
        batch, steps, width = x.shape

        def split(t):  # [B, T, C] -> [B, heads, T, C / heads]
            return t.view(batch, steps, self.heads, width // self.heads).transpose(1, 2)

        mixed = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)))
        return self.out(mixed.transpose(1, 2).reshape(batch, steps, width))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: attention then a 4x GELU MLP, each with a residual."""

    def __init__(self, width, heads):
        super().__init__()
        self.attn = SelfAttention(width, heads)
        self.attn_ln = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.mlp_ln = nn.LayerNorm(width)

    def forward(self, x):
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


def ppg_block_count(n_layer):
    """The PPG is read after the first 3/4 of the blocks (24 of 32 for large-v2)."""
    return n_layer - n_layer // 4


class WhisperEncoder(nn.Module):
    """Whisper AudioEncoder keeping only `n_blocks` blocks; names match 'encoder.*' minus the prefix."""

    def __init__(self, n_mels, n_ctx, width, heads, n_blocks):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.conv1 = nn.Conv1d(n_mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoid_table(n_ctx, width))
        self.blocks = nn.ModuleList(EncoderBlock(width, heads) for _ in range(n_blocks))
        self.ln_post = nn.LayerNorm(width)

    def forward(self, mel):  # mel [B, n_mels, T] -> [B, ceil(T / 2), width]
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # [B, T', C]
        positions = self.positional_embedding.shape[0]  # the longest output: 1500 frames at 50 Hz = 30 s
        if x.shape[1] > positions:
            raise ValueError(f"{x.shape[1]} frames exceed the encoder's {positions} positions")
        x = x + self.positional_embedding[: x.shape[1]].to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)
