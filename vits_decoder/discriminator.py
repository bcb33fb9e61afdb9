"""The full discriminator: MRD, then MPD, then MSD (public state-dict prefixes MRD., MPD., MSD.)."""
from torch import nn

from vits_decoder.mpd import MultiPeriodDiscriminator
from vits_decoder.mrd import MultiResolutionDiscriminator
from vits_decoder.msd import ScaleDiscriminator


class Discriminator(nn.Module):
    def __init__(self, hp):
        super().__init__()
        self.MRD = MultiResolutionDiscriminator(hp)
        self.MPD = MultiPeriodDiscriminator(hp)
        self.MSD = ScaleDiscriminator()

    def forward(self, wav):
        """wav [B, 1, N] -> list of (feature_maps, flattened_score), MRD then MPD then MSD."""
        return self.MRD(wav) + self.MPD(wav) + self.MSD(wav)
