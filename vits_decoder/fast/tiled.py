"""The decoder run as independent time tiles, one single-threaded tile per core (CPU conversion).

Tiles that overlap by the receptive field (from the layers' kernels, `stage_halos`, cropped after
every stage), decoded on their own and cut to their centres, give the untiled output within float
rounding. Why: torch's intra-op threads meet at a barrier after every matrix product, each waiting
for a descheduled thread beside a busy process (a 2-core conversion ran ~4x slower than idle);
here a preempted thread delays only its own tile, with one join per call.
"""
import functools
import math

import torch
from torch import nn

from common.runtime import map_single_threaded
from vits_decoder.alias import SnakeAlias
from vits_decoder.fast import tracing
from vits_decoder.generator import Generator

TILE_FRAMES = 300        # about this many output frames per tile (3 s at 100 frames/s)
SAFETY = 2               # extra samples of halo per layer group (rounding of strided layers)


def _reach(module):
    """Samples one side of an output that a layer reads: a 'same'-padded stride-1 convolution's
    half kernel, or an anti-aliased activation's x2 up- and down-sampling filters (taps / 4 each)."""
    if isinstance(module, nn.Conv1d):
        return module.dilation[0] * (module.kernel_size[0] - 1) // 2 + 1
    if isinstance(module, SnakeAlias):
        return math.ceil(module.upsample.filter.numel() / 4) + math.ceil(module.downsample.lowpass.filter.numel() / 4) + 1
    return 0


def stage_halos(gen):
    """(frames, [(before, after) per stage]): the context in input frames a tile needs on each
    side, and per stage the samples of context (at that stage's rate) its AMP blocks need
    (before) and the later layers need (after). Every layer of an AMP block is in series, so a
    block reads the sum of its layers' reaches."""
    halos = [None] * len(gen.ups)
    need = _reach(gen.activation_post) + _reach(gen.conv_post) + SAFETY  # at the last rate
    for i in reversed(range(len(gen.ups))):
        blocks = gen.resblocks[i * gen.num_kernels:(i + 1) * gen.num_kernels]
        before = need + max(sum(_reach(m) for m in b.modules()) for b in blocks) + SAFETY
        halos[i] = (before, need)
        up = gen.ups[i]
        # transposed conv: an output reads about kernel / stride inputs around it
        need = math.ceil(before / up.stride[0]) + math.ceil(up.kernel_size[0] / up.stride[0]) + SAFETY
    return need + _reach(gen.conv_pre) + SAFETY, halos


class TileCrop:
    """The crop of one tile after each stage: x and the source keep at most the context the
    later layers read (left / right: samples of context at the current rate)."""

    def __init__(self, gen, left, right, halos):
        self.rates = [up.stride[0] for up in gen.ups]
        self.left, self.right, self.per_sample, self.halos = left, right, gen.hop, halos

    def __call__(self, stage, refined, x, source):
        if not refined:  # just up-sampled: the context grew with the rate
            rate = self.rates[stage]
            self.left, self.right, self.per_sample = self.left * rate, self.right * rate, self.per_sample // rate
        keep = self.halos[stage][refined]
        cut_left, cut_right = max(0, self.left - keep), max(0, self.right - keep)
        self.left, self.right = self.left - cut_left, self.right - cut_right
        # one contiguous copy here rather than one per AMP block reading the cropped view
        return (x[..., cut_left:x.size(-1) - cut_right].contiguous(),
                source[..., cut_left * self.per_sample:source.size(-1) - cut_right * self.per_sample])

    def centre(self, audio):
        return audio[..., self.left:audio.size(-1) - self.right]


class TiledGenerator(Generator):
    """Conversion on a CPU as time tiles (the plain stage loop with autograd or while tracing)."""

    def inference(self, spk, x, source, workers=None, tile_frames=TILE_FRAMES):
        """x [B, C, T] frames, source [B, 1, T * hop] as overlapping tiles on `workers` threads
        (default: torch's thread count, the cores unless the user set fewer) -> audio [B, 1, T * hop]."""
        if x.device.type != "cpu" or torch.is_grad_enabled() or tracing():
            return self.synthesise(spk, x, source)
        frames, hop = x.size(-1), self.hop
        workers = workers or torch.get_num_threads()
        halo, halos = stage_halos(self)
        # a multiple of `workers` tiles of about tile_frames each, so the threads finish together
        count = -(-frames // tile_frames)
        tile = -(-frames // (-(-count // workers) * workers))
        jobs, crops = [], []
        for begin in range(0, frames, tile):
            end = min(begin + tile, frames)
            left, right = min(halo, begin), min(halo, frames - end)  # frames of context on each side
            start, stop = begin - left, end + right
            crops.append(TileCrop(self, left, right, halos))
            tile_spk = spk[:, start:stop] if spk.dim() == 3 else spk  # [B, T, spk] per frame, or [B, spk]
            jobs.append(functools.partial(self.synthesise, tile_spk, x[..., start:stop],
                                          source[..., start * hop:stop * hop], crops[-1]))
        return torch.cat([crop.centre(audio) for crop, audio in zip(crops, map_single_threaded(jobs, workers))], -1)
