"""The FCPE pitch network (torchfcpe's "CFNaiveMelPE", conv-only variant) in the layout of the wheel's
`fcpe_c_v001.pt`; every size is read back from the weight tensors, so a small file of the layout loads too.

    log-mel [B, T, 128] -> conv3 -> GroupNorm(4) -> LeakyReLU -> conv3       (input stack, mel -> hidden)
    n x [x + Conv-module(x)]       (conformer layers without attention: LayerNorm -> 1x1 conv to 2*inner
                                    -> GLU -> depthwise conv (31 taps) -> SiLU -> 1x1 conv)
    LayerNorm -> weight-normalised Linear -> sigmoid  -> [B, T, 360] over bins evenly spaced in cents
                                                         from f0_min to f0_max (`cent_table`, in the file)
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

GROUPS = 4  # GroupNorm groups of the input stack (not visible in the tensor shapes)
LAYER_PREFIX = "net.encoder_layers."


@dataclass(frozen=True)
class FcpeSizes:
    mels: int = 128
    hidden: int = 512
    inner: int = 1024  # channels after the GLU of each conv module
    kernel: int = 31  # depthwise taps
    layers: int = 6
    bins: int = 360

    @classmethod
    def from_state_dict(cls, state):
        """Sizes implied by a state dict of this layout (KeyError when a tensor this layout needs is absent)."""
        hidden, mels = state["input_stack.0.weight"].shape[:2]
        depthwise = state[LAYER_PREFIX + "0.conformer.net.4.conv.weight"]  # [inner, 1, kernel]
        if depthwise.shape[2] % 2 == 0:
            raise ValueError(f"FCPE depthwise kernel of {depthwise.shape[2]} taps: only odd kernels are supported")
        indices = {int(k[len(LAYER_PREFIX):].split(".")[0]) for k in state if k.startswith(LAYER_PREFIX)}
        return cls(mels=mels, hidden=hidden, inner=depthwise.shape[0], kernel=depthwise.shape[2],
                   layers=max(indices) + 1, bins=state["output_proj.bias"].shape[0])


class EncoderLayer(nn.Module):
    """x + the conformer convolution module of x. Parameter names follow the file: conformer.net.{0,2,4,6}."""

    def __init__(self, hidden, inner, kernel):
        super().__init__()
        self.conformer = nn.Module()
        self.conformer.net = nn.ModuleDict({
            "0": nn.LayerNorm(hidden),
            "2": nn.Conv1d(hidden, 2 * inner, 1),
            "4": nn.Module(),  # depthwise: one filter per channel, odd kernel, output as long as the input
            "6": nn.Conv1d(inner, hidden, 1),
        })
        self.conformer.net["4"].conv = nn.Conv1d(inner, inner, kernel, padding=kernel // 2, groups=inner)
        # the reference keeps a pre-attention LayerNorm in every layer; with no attention it is never
        # applied, but it is part of the file
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x):
        """x [B, T, H] -> [B, T, H]"""
        net = self.conformer.net
        y = net["0"](x).transpose(1, 2)  # [B, H, T]
        y = F.glu(net["2"](y), dim=1)  # [B, inner, T]
        y = F.silu(net["4"].conv(y))
        return x + net["6"](y).transpose(1, 2)


class WeightNormLinear(nn.Module):
    """Linear layer stored as direction `weight_v` [out, in] and per-row length `weight_g` [out, 1]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight_v = nn.Parameter(torch.randn(n_out, n_in) / n_in ** 0.5)
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=1, keepdim=True))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        weight = self.weight_v * (self.weight_g / self.weight_v.norm(dim=1, keepdim=True))
        return F.linear(x, weight, self.bias)


class FcpeNet(nn.Module):
    def __init__(self, sizes=FcpeSizes(), f0_min=32.70, f0_max=1975.5):
        super().__init__()
        self.sizes = sizes
        h = sizes.hidden
        self.input_stack = nn.ModuleDict({
            "0": nn.Conv1d(sizes.mels, h, 3, padding=1),
            "1": nn.GroupNorm(GROUPS, h),
            "3": nn.Conv1d(h, h, 3, padding=1),
        })
        self.net = nn.Module()
        self.net.encoder_layers = nn.ModuleList(EncoderLayer(h, sizes.inner, sizes.kernel) for _ in range(sizes.layers))
        self.norm = nn.LayerNorm(h)
        self.output_proj = WeightNormLinear(h, sizes.bins)
        # bin centres in cents above 10 Hz, evenly spaced; loaded from the file
        cents = 1200.0 * torch.log2(torch.tensor([f0_min, f0_max]) / 10.0)
        self.register_buffer("cent_table", torch.linspace(float(cents[0]), float(cents[1]), sizes.bins))
        # cents of f0_max (used by the reference only when training); kept so the file loads strictly
        self.register_buffer("gaussian_blurred_cent_mask", cents[1].clone())

    def stem(self, mel):
        """mel [B, T, M] -> [B, H, T] after the first conv and GroupNorm (its statistics span all frames)."""
        return self.input_stack["1"](self.input_stack["0"](mel.transpose(1, 2)))

    def body(self, x):
        """[B, H, T] from `stem` -> activations [B, T, bins]. Each output frame depends only on
        frames within `receptive_half` of it, so long inputs may run here in overlapping windows."""
        x = self.input_stack["3"](F.leaky_relu(x, 0.01)).transpose(1, 2)  # [B, T, H]
        for layer in self.net.encoder_layers:
            x = layer(x)
        return torch.sigmoid(self.output_proj(self.norm(x)))

    def receptive_half(self):
        """Frames either side of an output frame that `body` looks at."""
        return 1 + self.sizes.layers * (self.sizes.kernel // 2)

    def forward(self, mel):
        """mel [B, T, M] -> activations [B, T, bins] in (0, 1)."""
        return self.body(self.stem(mel))
