"""A faster, numerically equivalent forward pass of a loaded CrepeNet (FFT convolutions, folded batch-norm).

CREPE "full" costs ~1.4 GMAC per frame, 1.07 G of it in conv2 (1024 -> 128 channels, kernel 64 over
128 positions). Two exact rewrites cut that by ~6x:

1. Batch-norm folding. Each block is  maxpool(s * relu(conv(x) + b) + t)  with a per-channel BN
   scale s and shift t. With q = s * (conv(x) + b) (s folded into the weights and bias):
   s > 0:  s * relu(u) = relu(q)      and max-pool commutes with relu;
   s < 0:  s * relu(u) = min(q, 0)    and max-pool commutes with min(., 0).
   So  block = clamp(maxpool(q), lo, hi) + t  with (lo, hi) = (0, inf) or (-inf, 0) per channel;
   the elementwise work runs on the pooled (half-length) tensor.
2. Convolution in the frequency domain. Cross-correlation with a kernel of length K over a padded
   input of length P = L + K - 1 equals the first L samples of the circular correlation with
   FFT size P (no wrap-around reaches them). Per frequency bin the channel sum is a small matrix
   product, done as one real batched matmul over bins with complex numbers as 2x2 real blocks.
   Layer 1 (stride 4) is split into 4 polyphase components, each a stride-1 correlation.
"""
import torch
import torch.nn.functional as F

from pitch.crepe_net import FIRST_KERNEL, FIRST_PAD, FIRST_STRIDE, FRAME, KERNEL, PAD_LEFT, PAD_RIGHT


def _smooth_size(n):
    """Smallest 2^a 3^b 5^c >= n: FFT sizes that pocketfft and cuFFT handle fastest."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _complex_block(w_spec):
    """conj(W) as a real matrix acting on interleaved [re, im] channels.

    w_spec [O, C, Fq] complex -> [Fq, 2C, 2O]; row 2c + part, column 2o + part.
    (xr + i xi)(wr - i wi) = (xr wr + xi wi) + i (xi wr - xr wi)
    """
    re = w_spec.real.permute(2, 1, 0)  # [Fq, C, O]
    im = w_spec.imag.permute(2, 1, 0)
    from_re = torch.stack([re, -im], dim=-1)  # [Fq, C, O, 2]: input real part -> (out re, out im)
    from_im = torch.stack([im, re], dim=-1)
    block = torch.stack([from_re, from_im], dim=2)  # [Fq, C, 2, O, 2]
    return block.reshape(re.shape[0], 2 * re.shape[1], 2 * re.shape[2]).contiguous()


class FastCrepe(torch.nn.Module):
    """Inference-only twin of a CrepeNet. `conv="fft"` (fast on CPU; activations time-major, [L, B, C],
    so every FFT, matmul and pool works on contiguous memory) or `conv="direct"` (cuDNN)."""

    def __init__(self, net, conv="fft"):
        super().__init__()
        if conv not in ("fft", "direct"):
            raise ValueError(f"conv must be 'fft' or 'direct', not {conv!r}")
        self.conv = conv
        self.classifier = net.classifier
        self.n_fft = []
        length = FRAME
        with torch.no_grad():
            for i in range(1, 7):
                conv_mod, bn = getattr(net, f"conv{i}"), getattr(net, f"conv{i}_BN")
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                weight = conv_mod.weight.squeeze(-1) * scale[:, None, None]  # [O, C, K]
                positive = scale >= 0
                self._buffer(i, "weight", weight)
                self._buffer(i, "bias", conv_mod.bias * scale)
                self._buffer(i, "lo", torch.where(positive, 0.0, -float("inf")))
                self._buffer(i, "hi", torch.where(positive, float("inf"), 0.0))
                self._buffer(i, "shift", bn.bias - bn.running_mean * scale)
                if i == 1:
                    out_len = (length + 2 * FIRST_PAD - FIRST_KERNEL) // FIRST_STRIDE + 1
                    # polyphase: y[t] = sum_r sum_j w[4j + r] x[4(t + j) + r]
                    n_fft = _smooth_size((length + 2 * FIRST_PAD) // FIRST_STRIDE)
                    phases = weight[:, 0, :].reshape(weight.shape[0], -1, FIRST_STRIDE).permute(0, 2, 1)  # [O, 4, K/4]
                    signal = phases
                else:
                    out_len = length
                    # circular kernel h[(k - PAD_LEFT) mod N] = w[k] replaces the explicit padding;
                    # taps reach x[t - PAD_LEFT .. t + PAD_RIGHT], so N >= L + max pad keeps wrapped taps on zeros
                    n_fft = _smooth_size(length + max(PAD_LEFT, PAD_RIGHT))
                    circ = weight.new_zeros(weight.shape[0], weight.shape[1], n_fft)
                    circ[..., : KERNEL - PAD_LEFT] = weight[..., PAD_LEFT:]
                    circ[..., n_fft - PAD_LEFT:] = weight[..., :PAD_LEFT]
                    signal = circ
                self.n_fft.append(n_fft)
                if conv == "fft":  # (the direct path never needs the kernels' spectra)
                    self._buffer(i, "spec", _complex_block(torch.fft.rfft(signal, n=n_fft)))  # [Fq, 2C, 2O]
                length = out_len // 2

    def _buffer(self, i, key, value):
        # buffers so that .to(device) moves them; not saved (derived from the CrepeNet)
        self.register_buffer(f"l{i}_{key}", value.contiguous(), persistent=False)

    def _get(self, i, key):
        return getattr(self, f"l{i}_{key}")

    @staticmethod
    def _spectral(x, block, n_fft, out_len):
        """Circular correlation, time-major. x [L, B, C] real, block [Fq, 2C, 2O] -> [out_len, B, O]."""
        spec = torch.fft.rfft(x, n=n_fft, dim=0)  # [Fq, B, C]
        rows = torch.view_as_real(spec).flatten(2)  # [Fq, B, 2C], re/im interleaved
        out = torch.bmm(rows, block)  # [Fq, B, 2O]
        out = torch.view_as_complex(out.unflatten(2, (-1, 2)))  # [Fq, B, O]
        return torch.fft.irfft(out, n=n_fft, dim=0)[:out_len]

    def _forward_fft(self, frames):
        batch = frames.shape[0]
        x = F.pad(frames, (FIRST_PAD, FIRST_PAD))  # [B, 1532]
        out_len = (x.shape[-1] - FIRST_KERNEL) // FIRST_STRIDE + 1
        x = x.reshape(batch, -1, FIRST_STRIDE).permute(1, 0, 2).contiguous()  # [383, B, 4] phases
        for i in range(1, 7):
            x = self._spectral(x, self._get(i, "spec"), self.n_fft[i - 1], out_len)  # [L, B, O]
            x = torch.maximum(x[0::2], x[1::2])  # max-pool(2) along time
            x = x.add_(self._get(i, "bias"))
            x = torch.clamp(x, self._get(i, "lo"), self._get(i, "hi")).add_(self._get(i, "shift"))
            out_len = x.shape[0]
        return x.permute(1, 0, 2).reshape(batch, -1)  # [B, 4*C], position-major like Keras

    def _forward_direct(self, frames):
        x = frames[:, None, :]  # [B, 1, 1024]
        for i in range(1, 7):
            pad, stride = ((FIRST_PAD, FIRST_PAD), FIRST_STRIDE) if i == 1 else ((PAD_LEFT, PAD_RIGHT), 1)
            x = F.conv1d(F.pad(x, pad), self._get(i, "weight"), stride=stride)
            x = F.max_pool1d(x, 2, 2).add_(self._get(i, "bias")[:, None])  # [B, C, L/2]
            x = torch.clamp(x, self._get(i, "lo")[:, None], self._get(i, "hi")[:, None])
            x = x.add_(self._get(i, "shift")[:, None])
        return x.transpose(1, 2).reshape(x.shape[0], -1)

    def forward(self, frames):
        """frames [B, 1024] normalised -> activations [B, 360]."""
        x = self._forward_fft(frames) if self.conv == "fft" else self._forward_direct(frames)
        return torch.sigmoid(self.classifier(x))
