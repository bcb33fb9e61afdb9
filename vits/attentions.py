"""Transformer encoder with windowed relative-position self-attention (VITS text encoder)."""
import math

import torch
from torch import nn
from torch.nn import functional as F


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of [B, C, T] (parameters `gamma`, `beta`)."""

    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        y = F.layer_norm(x.transpose(1, -1), self.gamma.shape, self.gamma, self.beta, 1e-5)
        return y.transpose(1, -1)


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with learned relative-position embeddings shared by all heads: keys
    and values get a term from embeddings of the offset j - i within [-window, window] (zero beyond).
    The public form, with [L, 2L-1] offset tables; vits_decoder.fast swaps in one on the diagonals."""

    def __init__(self, channels, n_heads, window_size=4, p_dropout=0.0):
        super().__init__()
        assert channels % n_heads == 0, "channels must divide into heads"
        self.n_heads = n_heads
        self.head_dim = channels // n_heads
        self.window_size = window_size
        scale = self.head_dim ** -0.5
        # registered before the convolutions: the public state-dict order
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_dim) * scale)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_dim) * scale)
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(p_dropout)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def _offset_table(self, table, length):
        """[1, 2w+1, D] -> [1, 2L-1, D]: embeddings for offsets -(L-1)..(L-1)."""
        w = self.window_size
        extra = max(length - 1 - w, 0)
        if extra:
            table = F.pad(table, (0, 0, extra, extra))
        start = max(w - (length - 1), 0)
        return table[:, start: start + 2 * length - 1]

    @staticmethod
    def _relative_to_absolute(x):
        """[B, H, L, 2L-1] indexed by offset -> [B, H, L, L] indexed by key position."""
        b, h, length, _ = x.shape
        x = F.pad(x, (0, 1)).reshape(b, h, length * 2 * length)
        x = F.pad(x, (0, length - 1)).reshape(b, h, length + 1, 2 * length - 1)
        return x[:, :, :length, length - 1:]

    @staticmethod
    def _absolute_to_relative(x):
        """[B, H, L, L] indexed by key position -> [B, H, L, 2L-1] indexed by offset."""
        b, h, length, _ = x.shape
        x = F.pad(x, (0, length - 1)).reshape(b, h, length * (2 * length - 1))
        x = F.pad(x, (length, 0)).reshape(b, h, length, 2 * length)
        return x[:, :, :, 1:]

    def forward(self, x, attn_mask):
        b, c, length = x.shape

        def heads(t):  # [B, C, L] -> [B, H, L, D]
            return t.view(b, self.n_heads, self.head_dim, length).transpose(2, 3)

        q = heads(self.conv_q(x)) / math.sqrt(self.head_dim)
        out = self.attend(q, heads(self.conv_k(x)), heads(self.conv_v(x)), attn_mask)  # [B, H, L, D]
        return self.conv_o(out.transpose(2, 3).reshape(b, c, length))

    def attend(self, q, k, v, attn_mask):
        """q, k, v [B, H, L, D], attn_mask [B, 1, L, L] -> [B, H, L, D]."""
        length = q.size(2)
        rel_k = self._offset_table(self.emb_rel_k, length)      # [1, 2L-1, D]
        scores = q @ k.transpose(-2, -1) + self._relative_to_absolute(q @ rel_k.unsqueeze(0).transpose(-2, -1))
        weights = self.drop(F.softmax(scores.masked_fill(attn_mask == 0, -1e4), dim=-1))  # [B, H, L, L]
        rel_v = self._offset_table(self.emb_rel_v, length)
        return weights @ v + self._absolute_to_relative(weights) @ rel_v.unsqueeze(0)


class ConvFeedForward(nn.Module):
    """Two 'same'-padded convolutions with ReLU between, masked (`conv_1`, `conv_2`)."""

    def __init__(self, channels, filter_channels, kernel_size, p_dropout=0.0):
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x, x_mask):
        x = torch.relu(self.conv_1(F.pad(x * x_mask, self.pad)))
        x = self.conv_2(F.pad(self.drop(x) * x_mask, self.pad))
        return x * x_mask


class Encoder(nn.Module):
    """Post-norm transformer stack: attention + norm, then feed-forward + norm, per layer."""

    def __init__(self, hidden_channels, filter_channels, n_heads, n_layers, kernel_size,
                 p_dropout=0.0, window_size=4):
        super().__init__()
        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList(
            RelativeSelfAttention(hidden_channels, n_heads, window_size, p_dropout) for _ in range(n_layers))
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(hidden_channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            ConvFeedForward(hidden_channels, filter_channels, kernel_size, p_dropout) for _ in range(n_layers))
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(hidden_channels) for _ in range(n_layers))

    def forward(self, x, x_mask):
        # x [B, C, T], x_mask [B, 1, T]
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)  # [B, 1, T, T]
        x = x * x_mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1,
                                             self.ffn_layers, self.norm_layers_2):
            x = norm_1(x + self.drop(attn(x, attn_mask)))
            x = norm_2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask
