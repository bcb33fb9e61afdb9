"""Speaker classifier behind a gradient-reversal layer (adversarial speaker removal).

The classifier predicts the speaker vector from the content encoder's output; the reversed
gradient pushes the encoder to drop speaker information. The trainer scores the prediction
(cosine similarity to the speaker vector).
"""
import torch
from torch import nn

from vits.weight_norm import weight_norm


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


class GradientReversal(nn.Module):
    """Identity forward; multiplies the gradient by -scale backward (Ganin & Lempitsky 2015)."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return _ReverseGrad.apply(x, self.scale)


class SpeakerClassifier(nn.Module):
    """[B, C, T] content features -> [B, spk_dim] speaker-vector estimate (time average)."""

    def __init__(self, in_channels, spk_dim):
        super().__init__()

        def conv(cin, cout):
            return weight_norm(nn.Conv1d(cin, cout, kernel_size=5, padding=2))

        # index layout (1, 3, 5 = convolutions) matches the public state dict
        self.classifier = nn.Sequential(
            GradientReversal(1.0),
            conv(in_channels, in_channels), nn.ReLU(),
            conv(in_channels, in_channels), nn.ReLU(),
            conv(in_channels, spk_dim),
        )

    def forward(self, x):
        return self.classifier(x).mean(dim=-1)
