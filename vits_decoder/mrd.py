"""Multi-resolution discriminator: 2-D convolutions over STFT magnitudes at several resolutions."""
import ast

import torch
from torch import nn
from torch.nn import functional as F

from omegaconf import OmegaConf

from vits.weight_norm import norm_layer
from vits_decoder.scoring import score

PUBLIC_CHANNELS = 32  # used when a config (e.g. the public one) has no mrd.channels


def parse_resolutions(text):
    """Config string "[(n_fft, hop, win), ...]" (or a list) -> list of int triples, parsed safely."""
    value = ast.literal_eval(text) if isinstance(text, str) else [tuple(r) for r in text]
    try:
        out = [tuple(int(v) for v in r) for r in value]
    except (TypeError, ValueError):
        out = []
    if not out or any(len(r) != 3 for r in out):
        raise ValueError(f"mrd.resolutions must be a list of (n_fft, hop, win) triples, got {text!r}")
    return out


class DiscriminatorR(nn.Module):
    def __init__(self, hp, resolution):
        super().__init__()
        self.n_fft, self.hop, self.win = resolution
        self.slope = hp.mrd.lReLU_slope
        norm = norm_layer(hp.mrd.use_spectral_norm)
        c = int(OmegaConf.select(hp, "mrd.channels", default=PUBLIC_CHANNELS))
        self.convs = nn.ModuleList([
            norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
            norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
            norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
        ])
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


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, hp):
        super().__init__()
        self.resolutions = parse_resolutions(hp.mrd.resolutions)
        self.discriminators = nn.ModuleList(DiscriminatorR(hp, r) for r in self.resolutions)

    def forward(self, x):
        return [d(x) for d in self.discriminators]
