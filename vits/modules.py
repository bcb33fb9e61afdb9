"""Building blocks of the network: masks, the WaveNet stack, speaker-normalised affine coupling
layers (SNAC) and the flow built from them, the speaker classifier behind gradient reversal."""
import torch
from torch import nn

from vits_decoder.nn_utils import weight_norm


def sequence_mask(lengths, max_length):
    """[B] lengths -> [B, max_length] bool mask, True inside each sequence."""
    return torch.arange(max_length, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class WN(nn.Module):
    """Non-causal WaveNet: gated dilated convolutions with residual and skip paths. Optional global
    conditioning g [B, gin, 1] enters every gate through one 1x1 convolution split per layer."""

    def __init__(self, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=0):
        super().__init__()
        assert kernel_size % 2 == 1, "WaveNet kernel size must be odd"
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = dilation_rate ** i
            self.in_layers.append(weight_norm(nn.Conv1d(
                hidden_channels, 2 * hidden_channels, kernel_size,
                dilation=dilation, padding=(kernel_size * dilation - dilation) // 2)))
            # the last layer only feeds the skip path
            out = 2 * hidden_channels if i < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden_channels, out, 1)))
        self.cond_layer = None
        if gin_channels:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1))

    def forward(self, x, x_mask, g=None):
        # x [B, H, T], x_mask [B, 1, T], g [B, gin, 1]
        h = self.hidden_channels
        skip = torch.zeros_like(x)
        cond = self.cond_layer(g) if (g is not None and self.cond_layer is not None) else None
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            x_in = in_layer(x)
            gate = x_in if cond is None else x_in + cond[:, 2 * h * i: 2 * h * (i + 1)]
            out = res_skip(torch.tanh(gate[:, :h]) * torch.sigmoid(gate[:, h:]))
            if i < self.n_layers - 1:
                x = (x + out[:, :h]) * x_mask
                skip = skip + out[:, h:]
            else:
                skip = skip + out
        return skip * x_mask


class Flip(nn.Module):
    """Reverse the channel order (volume preserving)."""

    def forward(self, x, x_mask, g=None, reverse=False):
        return torch.flip(x, [1]), torch.zeros(x.size(0), dtype=x.dtype, device=x.device)


class SpeakerNormalizedCoupling(nn.Module):
    """Mean-only affine coupling with speaker normalisation (SNAC): the speaker vector sets a
    per-channel shift m_s and log-scale v_s (`snac`); x0, normalised, conditions a WaveNet m(x0n):
        forward: y1 = m(x0n) + (x1 - m_s) * exp(-v_s),  logdet = -sum(v_s) over valid frames
        reverse: x1 = m_s + (y1 - m(x0n)) * exp(v_s)"""

    def __init__(self, channels, hidden_channels, kernel_size, dilation_rate, n_layers, spk_channels):
        super().__init__()
        assert channels % 2 == 0, "coupling needs an even channel count"
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers)
        self.post = nn.Conv1d(hidden_channels, self.half, 1)
        self.post.weight.data.zero_()
        self.post.bias.data.zero_()
        self.snac = nn.Conv1d(spk_channels, 2 * self.half, 1)

    def forward(self, x, x_mask, g=None, reverse=False):
        # x [B, C, T], x_mask [B, 1, T], g [B, spk] raw speaker vector, or [B, T, spk] one per frame
        cond = g.unsqueeze(-1) if g.dim() == 2 else g.transpose(1, 2)  # [B, spk, 1 or T]
        spk_m, spk_v = self.snac(cond).chunk(2, dim=1)  # [B, C/2, 1 or T] each
        x0, x1 = x.split(self.half, dim=1)
        x0_n = (x0 - spk_m) * torch.exp(-spk_v) * x_mask
        shift = self.post(self.enc(self.pre(x0_n) * x_mask, x_mask)) * x_mask
        spk_logdet = (spk_v * x_mask).sum([1, 2])  # spk_v broadcast over frames
        if not reverse:
            x1 = (shift + (x1 - spk_m) * torch.exp(-spk_v) * x_mask) * x_mask
        else:
            x1 = (spk_m + (x1 - shift) * x_mask * torch.exp(spk_v)) * x_mask
        return torch.cat([x0, x1], 1), spk_logdet if reverse else -spk_logdet


class ResidualCouplingBlock(nn.Module):
    """`n_flows` x (SNAC coupling, Flip); returns the pushed tensor and its summed log-det."""

    def __init__(self, channels, hidden_channels, kernel_size, dilation_rate, n_layers, n_flows=4, spk_channels=256):
        super().__init__()
        coupling = (channels, hidden_channels, kernel_size, dilation_rate, n_layers, spk_channels)
        self.flows = nn.ModuleList(layer for _ in range(n_flows)
                                   for layer in (SpeakerNormalizedCoupling(*coupling), Flip()))

    def forward(self, x, x_mask, g, reverse=False):
        total = torch.zeros(x.size(0), dtype=x.dtype, device=x.device)
        for flow in (reversed(self.flows) if reverse else self.flows):
            x, logdet = flow(x, x_mask, g=g, reverse=reverse)
            total = total + logdet
        return x, total


class GradientReversal(nn.Module):
    """Identity forward; multiplies the gradient by -scale backward (Ganin & Lempitsky 2015)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        x = x.clone()
        if x.requires_grad:
            x.register_hook(lambda grad: -self.scale * grad)
        return x


class SpeakerClassifier(nn.Module):
    """[B, C, T] content features -> [B, spk_dim] speaker-vector estimate (time average), behind a
    gradient reversal: the reversed gradient pushes the content encoder to drop speaker information."""

    def __init__(self, in_channels, spk_dim):
        super().__init__()

        def conv(cin, cout):
            return weight_norm(nn.Conv1d(cin, cout, kernel_size=5, padding=2))

        # index layout (1, 3, 5 = convolutions) matches the public state dict
        self.classifier = nn.Sequential(
            GradientReversal(1.0),
            conv(in_channels, in_channels), nn.ReLU(),
            conv(in_channels, in_channels), nn.ReLU(),
            conv(in_channels, spk_dim),
        )

    def forward(self, x):
        return self.classifier(x).mean(dim=-1)
