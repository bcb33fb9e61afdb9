"""The RMVPE network (Wei et al. 2023, arXiv 2306.15412) in the layout of the public `rmvpe.pt`.

A log-mel [B, T, 128] goes through a residual U-Net over (time, mel) treated as an image, a 3x3 conv to
3 maps, a bidirectional GRU over time and a linear layer to 360 sigmoid pitch saliences per frame
(bins of 20 cents from ~31.7 Hz). Module names mirror the public state dict tensor for tensor:

    unet.encoder.bn                               BatchNorm2d(1) on the input image
    unet.encoder.layers.L.conv.B.conv.{0,1,3,4}   level L, residual block B: conv, bn, (relu), conv, bn
    unet.encoder.layers.L.conv.B.shortcut         1x1 conv where the channel count changes
    unet.intermediate.layers.I.conv.B...          the bottom of the U, no pooling
    unet.decoder.layers.L.conv1.{0,1}             transposed conv (x2 in time and mel), bn
    unet.decoder.layers.L.conv2.B...              residual blocks over [upsampled, skip]
    unet.tf.layers.L...                           only in some files (so-vits-svc 4.1's): unused
    cnn                                           conv 16 -> 3 maps
    fc.0.gru, fc.1                                BiGRU(3 * 128 -> 2 x 256), linear 512 -> 360
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

N_MELS = 128
N_BINS = 360


@dataclass(frozen=True)
class RmvpeSizes:
    """Read off a state dict (so small files of the layout load too); the defaults are the public file's."""
    levels: int = 5          # encoder/decoder levels; each halves time and mel
    inters: int = 4          # residual stages at the bottom
    blocks: int = 4          # residual blocks per stage
    channels: int = 16       # channels of the first level (doubling per level)
    gru_hidden: int = 256    # per direction
    gru_layers: int = 1
    timbre_filter: bool = False  # the unused `unet.tf` branch some files carry

    @property
    def frame_multiple(self):
        """The U-Net needs a frame count divisible by this (one halving per level)."""
        return 2 ** self.levels

    @classmethod
    def from_state_dict(cls, state):
        def count(prefix):
            found = {k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)}
            return len([x for x in found if x.isdigit()])

        hh = state.get("fc.0.gru.weight_hh_l0")  # [3H, H]; absent in the GRU-less variant
        return cls(levels=count("unet.encoder.layers."), inters=count("unet.intermediate.layers."),
                   blocks=count("unet.encoder.layers.0.conv."),
                   channels=int(state["unet.encoder.layers.0.conv.0.conv.0.weight"].shape[0]),
                   gru_hidden=int(hh.shape[1]) if hh is not None else 0, gru_layers=count("fc.0.gru.weight_hh_l"),
                   timbre_filter=any(k.startswith("unet.tf.") for k in state))


def _conv3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class Residual(nn.Module):
    """relu(bn(conv(relu(bn(conv(x)))))) + x, the skip through a 1x1 conv when widths differ."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(_conv3(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(),
                                  _conv3(cout, cout), nn.BatchNorm2d(cout), nn.ReLU())
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.conv(x) + skip


def _blocks(cin, cout, blocks):
    return nn.Sequential(*(Residual(cin if i == 0 else cout, cout) for i in range(blocks)))


class UpStage(nn.Module):
    """Double time and mel with a transposed conv, join the encoder's skip, then residual blocks."""

    def __init__(self, cin, cout, blocks):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU())
        self.conv2 = _blocks(2 * cout, cout, blocks)

    def forward(self, x, skip):
        return self.conv2(torch.cat([self.conv1(x), skip], dim=1))


def _holder(**modules):
    """A bare module holding named children (the state dict's `unet.encoder.layers`, ...)."""
    holder = nn.Module()
    for name, module in modules.items():
        setattr(holder, name, module)
    return holder


class UNet(nn.Module):
    def __init__(self, s):
        super().__init__()
        widths = [s.channels * 2 ** i for i in range(s.levels + 1)]  # first level ... bottom
        self.encoder = _holder(bn=nn.BatchNorm2d(1), layers=nn.ModuleList(
            _holder(conv=_blocks(([1] + widths)[i], widths[i], s.blocks)) for i in range(s.levels)))
        self.intermediate = _holder(layers=nn.ModuleList(
            _holder(conv=_blocks(widths[-1] // 2 if i == 0 else widths[-1], widths[-1], s.blocks))
            for i in range(s.inters)))
        if s.timbre_filter:
            # one residual block per encoder level: in some published files, never used by the public
            # forward pass (nor here); kept only so those files load tensor for tensor
            self.tf = _holder(layers=nn.ModuleList(Residual(c, c) for c in widths[:-1]))
        self.decoder = _holder(layers=nn.ModuleList(
            UpStage(widths[i + 1], widths[i], s.blocks) for i in reversed(range(s.levels))))

    def forward(self, x):
        skips = []
        x = self.encoder.bn(x)
        for level in self.encoder.layers:
            skips.append(level.conv(x))
            x = F.avg_pool2d(skips[-1], 2)  # x0.5 in time and mel
        for stage in self.intermediate.layers:
            x = stage.conv(x)
        for stage, skip in zip(self.decoder.layers, reversed(skips)):
            x = stage(x, skip)
        return x


class BiGRU(nn.Module):
    def __init__(self, features, hidden, layers):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.gru(x)[0]


class RmvpeNet(nn.Module):
    def __init__(self, sizes=RmvpeSizes()):
        super().__init__()
        self.sizes = sizes
        self.unet = UNet(sizes)
        self.cnn = nn.Conv2d(sizes.channels, 3, 3, padding=1)
        gru = [BiGRU(3 * N_MELS, sizes.gru_hidden, sizes.gru_layers)] if sizes.gru_layers else []
        width = 2 * sizes.gru_hidden if sizes.gru_layers else 3 * N_MELS
        self.fc = nn.Sequential(*gru, nn.Linear(width, N_BINS), nn.Dropout(0.25), nn.Sigmoid())

    def forward(self, mel):
        """mel [B, T, 128] log-mel, T a multiple of sizes.frame_multiple -> salience [B, T, 360] in (0, 1)."""
        x = self.cnn(self.unet(mel.unsqueeze(1)))  # [B, 3, T, 128]
        return self.fc(x.transpose(1, 2).flatten(2))  # [B, T, 3 * 128] -> [B, T, 360]
