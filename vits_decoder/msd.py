"""Scale discriminator on the raw waveform (grouped strided 1-D convolutions)."""
import torch
from torch import nn
from torch.nn import functional as F

from vits.weight_norm import weight_norm

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
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), MSD_SLOPE)
            features.append(x)
        x = self.conv_post(x)
        features.append(x)
        return [(features, torch.flatten(x, 1, -1))]
