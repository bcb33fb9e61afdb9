"""Small tensor helpers shared by the SVC network: masks, segment slicing, init, seeding."""
import contextlib

import torch


def get_padding(kernel_size, dilation=1):
    """'Same' padding of an odd kernel with the given dilation."""
    return (kernel_size * dilation - dilation) // 2


def init_conv_normal(module, std=0.01):
    """Normal(0, std) initial weights for convolution layers (HiFi-GAN / BigVGAN habit)."""
    if "Conv" in type(module).__name__:
        module.weight.data.normal_(0.0, std)


def sequence_mask(lengths, max_length=None):
    """[B] lengths -> [B, T] bool mask, True inside each sequence."""
    if max_length is None:
        max_length = int(lengths.max())
    steps = torch.arange(max_length, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def gated_tanh_sigmoid(a, b, channels):
    """WaveNet gate: tanh of the first `channels` of a+b times sigmoid of the rest."""
    summed = a + b
    return torch.tanh(summed[:, :channels]) * torch.sigmoid(summed[:, channels:])


def slice_frames(x, starts, length):
    """Cut `length` frames from the last axis of x [B, ..., T] at per-item `starts` [B]."""
    pieces = [x[i, ..., int(s): int(s) + length] for i, s in enumerate(starts)]
    return torch.stack(pieces, 0)


def random_slice_with_pitch(z, pitch, lengths, length):
    """Random window of `length` frames per item of z [B, C, T] and the matching pitch [B, T].

    Returns (z_window [B, C, length], pitch_window [B, length], starts [B]).
    """
    batch = z.size(0)
    if z.size(-1) < length:
        raise ValueError(f"clips of {z.size(-1)} frames are shorter than the decoder window of {length} "
                         f"frames (data.segment_size / hop_length): drop shorter clips or lower segment_size")
    if lengths is None:
        lengths = torch.full((batch,), z.size(-1), device=z.device)
    room = (lengths - length + 1).clamp(min=1).to(torch.float32)
    starts = (torch.rand(batch, device=z.device) * room).long()
    return slice_frames(z, starts, length), slice_frames(pitch, starts, length), starts


@contextlib.contextmanager
def seeded(seed, device=None):
    """Run a block with the torch RNG seeded, restoring the outer RNG state afterwards.

    `seed=None` does nothing (the block uses the global RNG as usual).
    """
    if seed is None:
        yield
        return
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
