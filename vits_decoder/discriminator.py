"""The full discriminator: MRD, then MPD, then MSD (public state-dict prefixes MRD., MPD., MSD.).
Each sub-discriminator returns (feature maps of every layer, for the feature-matching loss;
scores flattened to [B, -1])."""
import torch
from torch import nn
from torch.nn import functional as F

from vits_decoder.nn_utils import norm_layer, weight_norm

MSD_SLOPE = 0.1
# (in, out, kernel, stride, groups) per MSD layer, padding keeps 'same' length before striding
MSD_LAYERS = [
    (1, 16, 15, 1, 1),
    (16, 64, 41, 4, 4),
    (64, 256, 41, 4, 16),
    (256, 1024, 41, 4, 64),
    (1024, 1024, 41, 4, 256),
    (1024, 1024, 5, 1, 1),
]


def score(convs, conv_post, x, slope):
    """x through each of `convs` (+ leaky ReLU), then conv_post -> (feature maps, scores [B, -1])."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), slope)
        features.append(x)
    x = conv_post(x)
    features.append(x)
    return features, torch.flatten(x, 1, -1)


class DiscriminatorP(nn.Module):
    """Period discriminator: the waveform folded into [T / p, p] and scored by 2-D convolutions."""

    def __init__(self, hp, period):
        super().__init__()
        self.period = period
        self.slope = hp.mpd.lReLU_slope
        norm = norm_layer(hp.mpd.use_spectral_norm)
        k, s = hp.mpd.kernel_size, hp.mpd.stride
        channels = [1] + list(hp.mpd.channels)
        last = len(channels) - 2
        self.convs = nn.ModuleList(
            norm(nn.Conv2d(cin, cout, (k, 1), (s if i < last else 1, 1), padding=(k // 2, 0)))
            for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])))
        self.conv_post = norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x):
        # x [B, 1, N] -> [B, 1, N / p, p] (reflect-padded to a whole number of periods)
        pad = -x.size(-1) % self.period
        if pad:
            x = F.pad(x, (0, pad), mode="reflect")
        x = x.view(x.size(0), x.size(1), -1, self.period)
        return score(self.convs, self.conv_post, x, self.slope)


class DiscriminatorList(nn.Module):
    """Sub-discriminators as `discriminators.<n>` (the public MRD / MPD layout); a list of outputs."""

    def __init__(self, discriminators):
        super().__init__()
        self.discriminators = nn.ModuleList(discriminators)

    def forward(self, x):
        return [d(x) for d in self.discriminators]


class DiscriminatorR(nn.Module):
    """Resolution discriminator: 2-D convolutions over the STFT magnitude at one resolution."""

    def __init__(self, hp, resolution):
        super().__init__()
        self.n_fft, self.hop, self.win = resolution
        self.slope = hp.mrd.lReLU_slope
        norm = norm_layer(hp.mrd.use_spectral_norm)
        c = hp.mrd.channels
        self.convs = nn.ModuleList(
            [norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4)))]
            + [norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))) for _ in range(3)]
            + [norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1)))])
        self.conv_post = norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def magnitude(self, x):
        """[B, 1, N] -> [B, n_fft/2+1, frames] STFT magnitude (rectangular window, as published)."""
        side = (self.n_fft - self.hop) // 2
        x = F.pad(x, (side, side), mode="reflect").squeeze(1)
        window = torch.ones(self.win, device=x.device, dtype=torch.float32)
        with torch.autocast(device_type=x.device.type, enabled=False):
            spec = torch.stft(x.float(), self.n_fft, self.hop, self.win, window=window,
                              center=False, return_complex=True)
        return spec.abs()

    def forward(self, x):
        x = self.magnitude(x).unsqueeze(1).to(x.dtype)  # [B, 1, F, frames]
        return score(self.convs, self.conv_post, x, self.slope)


class ScaleDiscriminator(nn.Module):
    """Scale discriminator on the raw waveform (grouped strided 1-D convolutions)."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(cin, cout, k, s, groups=g, padding=k // 2))
            for cin, cout, k, s, g in MSD_LAYERS)
        self.conv_post = weight_norm(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x):
        return [score(self.convs, self.conv_post, x, MSD_SLOPE)]


class Discriminator(nn.Module):
    def __init__(self, hp):
        super().__init__()
        self.MRD = DiscriminatorList(DiscriminatorR(hp, r) for r in hp.mrd.resolutions)
        self.MPD = DiscriminatorList(DiscriminatorP(hp, int(p)) for p in hp.mpd.periods)
        self.MSD = ScaleDiscriminator()

    def forward(self, wav):
        """wav [B, 1, N] -> list of (feature_maps, flattened_score), MRD then MPD then MSD."""
        return self.MRD(wav) + self.MPD(wav) + self.MSD(wav)
