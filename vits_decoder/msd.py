"""Scale discriminator on the raw waveform (grouped strided 1-D convolutions)."""
from torch import nn

from vits.weight_norm import weight_norm
from vits_decoder.scoring import score

MSD_SLOPE = 0.1
# (in, out, kernel, stride, groups) per layer, padding keeps 'same' length before striding
MSD_LAYERS = [
    (1, 16, 15, 1, 1),
    (16, 64, 41, 4, 4),
    (64, 256, 41, 4, 16),
    (256, 1024, 41, 4, 64),
    (1024, 1024, 41, 4, 256),
    (1024, 1024, 5, 1, 1),
]


class ScaleDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(cin, cout, k, s, groups=g, padding=k // 2))
            for cin, cout, k, s, g in MSD_LAYERS)
        self.conv_post = weight_norm(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x):
        return [score(self.convs, self.conv_post, x, MSD_SLOPE)]
