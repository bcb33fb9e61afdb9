"""The decoder run as independent time tiles, one thread per core (CPU conversion path).

Every layer of the decoder is local in time, so a stretch of output needs only a bounded
stretch of input around it (the receptive field). Cutting the input into tiles that overlap by
that much, decoding each tile on its own and keeping each tile's centre gives the whole output,
equal to the untiled one within float rounding.

Why: torch's own intra-op threading puts a thread barrier after every matrix product (tens of
thousands per song on the fast path). When another program shares the cores, each barrier
waits for a descheduled thread, and a 2-core conversion beside one busy process ran ~4x slower
than idle. Here each tile runs single-threaded in its own thread (torch ops release the GIL)
and threads take the next tile when they finish one, so a preempted thread delays only its own
tile; there is one join per call.

Halo bookkeeping: each stage needs `halo[i]` samples of context at its own rate on each side
of what the later stages need (computed from the layers' kernels, see `stage_halos`); tiles are
cropped to that after every stage, so the overlap costs little beyond the first stage.
"""
import math

import torch

from common.runtime import exporting, map_single_threaded
from vits_decoder.alias.polyphase import TAPS

TILE_FRAMES = 300        # about this many output frames per tile (3 s at 100 frames/s)
SAFETY = 2               # extra samples of halo per layer group (rounding of strided layers)


def tiles_apply(x):
    """True for CPU inference outside export (the tiles' Python control flow is not traceable)."""
    return x.device.type == "cpu" and not torch.is_grad_enabled() and not exporting()


def _conv_reach(conv):
    """Samples one side of an output that a 'same'-padded stride-1 convolution reads."""
    return conv.dilation[0] * (conv.kernel_size[0] - 1) // 2 + 1


def _activation_reach(act):
    """x2 up-sampling filter and x2 down-sampling filter: TAPS / 4 input samples each."""
    return 2 * math.ceil(TAPS / 4) + 1


def _block_reach(block):
    """Reach of one AMP block at its rate: per dilation, act -> conv_d -> act -> conv_1."""
    return sum(_activation_reach(a1) + _conv_reach(c1) + _activation_reach(a2) + _conv_reach(c2)
               for c1, c2, a1, a2 in zip(block.convs1, block.convs2,
                                          block.activations[0::2], block.activations[1::2]))


def stage_halos(gen):
    """(frames, [(before, after) per stage]): the context in input frames a tile needs on each
    side, and per stage the samples of context (at that stage's rate) its AMP blocks need
    (before) and the later layers need (after)."""
    halos = [None] * gen.num_upsamples
    need = _activation_reach(gen.activation_post) + _conv_reach(gen.conv_post) + SAFETY  # at the last rate
    for i in reversed(range(gen.num_upsamples)):
        blocks = gen.resblocks[i * gen.num_kernels:(i + 1) * gen.num_kernels]
        before = need + max(_block_reach(b) for b in blocks) + SAFETY
        halos[i] = (before, need)
        up = gen.ups[i]
        # transposed conv: an output reads about kernel / stride inputs around it
        need = math.ceil(before / up.stride[0]) + math.ceil(up.kernel_size[0] / up.stride[0]) + SAFETY
    return need + _conv_reach(gen.conv_pre) + SAFETY, halos


def _crop(x, left, right, keep_left, keep_right):
    """x [..., L] with `left` / `right` samples of context -> (x, cut_left, cut_right) keeping at
    most keep_* of them."""
    cut_left, cut_right = max(0, left - keep_left), max(0, right - keep_right)
    return x[..., cut_left:x.size(-1) - cut_right], cut_left, cut_right


def decode_tile(gen, spk, x, source, left, right, halos):
    """Decoder on one tile: x [B, C, n] frames of which left / right are context, source
    [B, 1, n * hop] -> audio [B, 1, (n - left - right) * hop], the tile's centre."""
    x = gen.pre(spk, x)                                        # [B, C0, n]
    source = source.to(x.dtype)
    per_sample = gen.hop                                       # audio samples per sample of x

    def crop(x, source, keep):
        nonlocal left, right
        x, cut_left, cut_right = _crop(x, left, right, keep, keep)
        left, right = left - cut_left, right - cut_right
        # one contiguous copy here rather than one per AMP block reading the cropped view
        return x.contiguous(), source[..., cut_left * per_sample:source.size(-1) - cut_right * per_sample]

    for i, (before, after) in enumerate(halos):
        rate = gen.ups[i].stride[0]
        x = gen.upsample(i, x, source)                         # [B, Ci+1, L * rate]
        left, right, per_sample = left * rate, right * rate, per_sample // rate
        x, source = crop(x, source, before)
        x, source = crop(gen.refine(i, x), source, after)
    audio = gen.post(x)                                        # [B, 1, samples]
    return audio[..., left:audio.size(-1) - right]


def tile_bounds(frames, tile, halo):
    """[(start, stop, left context, right context)] covering range(frames) in steps of `tile`."""
    bounds = []
    for start in range(0, frames, tile):
        stop = min(start + tile, frames)
        left, right = min(halo, start), min(halo, frames - stop)
        bounds.append((start - left, stop + right, left, right))
    return bounds


def decode_tiled(gen, spk, x, source, workers=None, tile_frames=TILE_FRAMES):
    """gen's decoder on x [B, C, T] frames and source [B, 1, T * hop] as overlapping tiles on
    `workers` threads (default: torch's thread count, the cores unless the user set fewer)
    -> audio [B, 1, T * hop]."""
    frames = x.size(-1)
    workers = workers or torch.get_num_threads()
    halo, halos = stage_halos(gen)
    # a multiple of `workers` tiles of about tile_frames each, so the threads finish together
    count = -(-frames // tile_frames)
    count = -(-count // workers) * workers
    bounds = tile_bounds(frames, -(-frames // count), halo)
    hop = gen.hop

    def tile(bound):
        start, stop, left, right = bound
        tile_spk = spk[:, start:stop] if spk.dim() == 3 else spk  # [B, T, spk] per frame, or [B, spk]
        return decode_tile(gen, tile_spk, x[..., start:stop], source[..., start * hop:stop * hop], left, right,
                           halos)

    pieces = map_single_threaded([lambda bound=bound: tile(bound) for bound in bounds], workers)
    return torch.cat(pieces, dim=-1)
