"""Multi-period discriminator: the waveform folded into [T / p, p] and scored by 2-D convolutions."""
from torch import nn
from torch.nn import functional as F

from omegaconf import OmegaConf

from vits.weight_norm import norm_layer
from vits_decoder.scoring import score

PUBLIC_CHANNELS = [64, 128, 256, 512, 1024]  # used when a config (e.g. the public one) has no mpd.channels


class DiscriminatorP(nn.Module):
    def __init__(self, hp, period):
        super().__init__()
        self.period = period
        self.slope = hp.mpd.lReLU_slope
        norm = norm_layer(hp.mpd.use_spectral_norm)
        k, s = hp.mpd.kernel_size, hp.mpd.stride
        channels = [1] + [int(c) for c in OmegaConf.select(hp, "mpd.channels", default=PUBLIC_CHANNELS)]
        last = len(channels) - 2
        self.convs = nn.ModuleList(
            norm(nn.Conv2d(cin, cout, (k, 1), (s if i < last else 1, 1), padding=(k // 2, 0)))
            for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])))
        self.conv_post = norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        # x [B, 1, N] -> [B, 1, N / p, p] (reflect-padded to a whole number of periods)
        b, c, n = x.shape
        if n % self.period:
            pad = self.period - n % self.period
            x = F.pad(x, (0, pad), mode="reflect")
            n += pad
        x = x.view(b, c, n // self.period, self.period)
        return score(self.convs, self.conv_post, x, self.slope)


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, hp):
        super().__init__()
        self.discriminators = nn.ModuleList(DiscriminatorP(hp, int(p)) for p in hp.mpd.periods)

    def forward(self, x):
        return [d(x) for d in self.discriminators]
