"""BigVGAN generator with an NSF harmonic source and a speaker adapter (so-vits-svc-5.0 decoder)."""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vits_decoder.alias import SnakeAlias
from vits_decoder.nn_utils import weight_norm
from vits_decoder.nsf import SourceModuleHnNSF


class SpeakerAdapter(nn.Module):
    """Layer norm over channels whose scale and shift come from the speaker vector."""

    def __init__(self, spk_dim, channels, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.W_scale = nn.Linear(spk_dim, channels)
        self.W_bias = nn.Linear(spk_dim, channels)
        # start as a plain layer norm: scale 1, shift 0 for every speaker
        nn.init.zeros_(self.W_scale.weight)
        nn.init.ones_(self.W_scale.bias)
        nn.init.zeros_(self.W_bias.weight)
        nn.init.zeros_(self.W_bias.bias)

    def forward(self, x, spk):
        # x [B, C, T], spk [B, spk_dim], or [B, T, spk_dim] for a speaker vector per frame
        mean = x.mean(dim=1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=1, keepdim=True)
        y = (x - mean) / torch.sqrt(var + self.eps)
        scale, bias = self.W_scale(spk), self.W_bias(spk)  # [B, C] or [B, T, C]
        if spk.dim() == 2:
            return y * scale.unsqueeze(-1) + bias.unsqueeze(-1)
        return y * scale.transpose(1, 2) + bias.transpose(1, 2)


def _amp_conv(channels, kernel_size, dilation):
    padding = dilation * (kernel_size - 1) // 2  # 'same'
    conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=padding)
    conv.weight.data.normal_(0.0, 0.01)  # HiFi-GAN / BigVGAN initialisation
    return weight_norm(conv)


class AMPBlock(nn.Module):
    """BigVGAN anti-aliased multi-periodicity block: per dilation d, x += conv_1(act(conv_d(act(x))))."""

    def __init__(self, channels, kernel_size=3, dilations=(1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList(_amp_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_amp_conv(channels, kernel_size, 1) for _ in dilations)
        # two activations per dilation: even ones before convs1, odd ones before convs2
        self.activations = nn.ModuleList(SnakeAlias(channels) for _ in range(2 * len(dilations)))

    def forward(self, x):
        for i, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
            x = x + c2(self.activations[2 * i + 1](c1(self.activations[2 * i](x))))
        return x


def mish(x):
    return x * torch.tanh(F.softplus(x))


class Generator(nn.Module):
    """z [B, upsample_input, T] + speaker + NSF source -> waveform [B, 1, T * hop] in [-1, 1]."""

    def __init__(self, hp):
        super().__init__()
        gen = hp.gen
        rates = [int(r) for r in gen.upsample_rates]
        self.hop = int(np.prod(rates))
        self.num_kernels = len(gen.resblock_kernel_sizes)
        channels = [gen.upsample_initial_channel // (2 ** i) for i in range(len(rates) + 1)]

        self.adapter = SpeakerAdapter(hp.vits.spk_dim, gen.upsample_input)
        self.conv_pre = nn.Conv1d(gen.upsample_input, channels[0], 7, 1, padding=3)
        self.m_source = SourceModuleHnNSF(sampling_rate=hp.data.sampling_rate)
        # registered before `ups`: the public state-dict order
        self.noise_convs = nn.ModuleList()
        self.ups = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(rates, gen.upsample_kernel_sizes)):
            up = nn.ConvTranspose1d(channels[i], channels[i + 1], kernel, rate, padding=(kernel - rate) // 2)
            up.weight.data.normal_(0.0, 0.01)
            self.ups.append(weight_norm(up))
            # the source (at audio rate) is strided down to this stage's rate
            stride = int(np.prod(rates[i + 1:]))
            taps = 2 * stride if stride > 1 else 1  # (not `kernel`: that is the up-sampler's, from the zip)
            self.noise_convs.append(nn.Conv1d(1, channels[i + 1], taps, stride, padding=stride // 2))
        self.resblocks = nn.ModuleList(
            AMPBlock(channels[i + 1], k, d)
            for i in range(len(rates))
            for k, d in zip(gen.resblock_kernel_sizes, gen.resblock_dilation_sizes))
        self.activation_post = SnakeAlias(channels[-1])
        self.conv_post = nn.Conv1d(channels[-1], 1, 7, 1, padding=3, bias=False)

    def pitch2source(self, f0):
        """f0 [B, T] Hz per frame -> NSF excitation [B, 1, T * hop] (random: seed the RNG)."""
        f0_audio = f0.float().repeat_interleave(self.hop, dim=1).unsqueeze(-1)  # [B, T*hop, 1]
        return self.m_source(f0_audio).transpose(1, 2)

    def synthesise(self, spk, x, source, crop=None):
        """spk [B, spk_dim] (or [B, T, spk_dim]), x [B, C, T] frames, source [B, 1, T * hop] ->
        waveform [B, 1, T * hop]. crop(stage, refined, x, source) -> (x, source), when given, runs
        after each stage's up-sampling and after its AMP blocks (the time tiles of fast/tiled.py)."""
        x = mish(self.conv_pre(self.adapter(x, spk)))              # [B, C0, T]
        source = source.to(x.dtype)
        for i, (up, noise) in enumerate(zip(self.ups, self.noise_convs)):
            x = up(x) + noise(source)                              # [B, Ci+1, L * rate_i]
            if crop:
                x, source = crop(i, False, x, source)
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels  # AMP blocks, averaged
            if crop:
                x, source = crop(i, True, x, source)
        return torch.tanh(self.conv_post(self.activation_post(x)))

    def forward(self, spk, x, f0, perturb=True):
        """Training path: spk [B, spk_dim], x [B, C, T], f0 [B, T] Hz -> [B, 1, T * hop]."""
        if perturb:
            x = x + torch.randn_like(x)  # the public perturbation: N(0, 1) noise on the input
        return self.synthesise(spk, x, self.pitch2source(f0))

    def inference(self, spk, x, source):
        """Conversion path with a precomputed source [B, 1, T * hop]."""
        return self.synthesise(spk, x, source)
