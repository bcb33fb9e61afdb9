"""BigVGAN anti-aliased multi-periodicity (AMP) residual block."""
from torch import nn

from vits.commons import get_padding, init_conv_normal
from vits.weight_norm import weight_norm
from vits_decoder.alias import SnakeAlias
from vits_decoder.fastconv import conv1d_fast


def _conv(channels, kernel_size, dilation):
    conv = nn.Conv1d(channels, channels, kernel_size, 1, dilation=dilation,
                     padding=get_padding(kernel_size, dilation))
    init_conv_normal(conv)
    return weight_norm(conv)


class AMPBlock(nn.Module):
    """Per dilation d: x += conv_1(act(conv_d(act(x)))), activations anti-aliased Snake-beta."""

    def __init__(self, channels, kernel_size=3, dilations=(1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList(_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_conv(channels, kernel_size, 1) for _ in dilations)
        # two activations per dilation: even ones before convs1, odd ones before convs2
        self.activations = nn.ModuleList(SnakeAlias(channels) for _ in range(2 * len(dilations)))
        self.fast = False  # per-tap GEMM convolutions where faster (inference on CPU, folded weights)

    def forward(self, x):
        conv = conv1d_fast if self.fast else (lambda c, v: c(v))
        for i, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
            y = conv(c1, self.activations[2 * i](x))
            y = conv(c2, self.activations[2 * i + 1](y))
            x = x + y
        return x
