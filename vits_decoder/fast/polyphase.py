"""Polyphase form of the anti-aliased Snake activation: only the work the plain path keeps.

The plain path zero-stuffs to twice the length, filters with 12 taps, activates, filters again and
drops every other sample. Here:
* up: even output samples are the input filtered with the odd taps, odd ones with the even taps
  (two 6-tap filters, read from one 7-sample window of the input);
* Snake-beta runs on the x2 signal, z + sin^2(a z) * (1 / b) with a, 1/b precomputed;
* down: output j = sum_i g[i] z[2j + i - 5], evaluated only for the kept samples.
Depthwise 6-tap convolutions are slow on CPU, so both filters are banded matrices acting on blocks
of BLOCK samples (plus the head of the next block, the "halo"): two dense matrix products each.
Edges match the plain path's replicate padding exactly.
"""
import torch

from vits_decoder.alias import SnakeAlias

RATIO = 2
TAPS = 12
BLOCK = 32                         # input samples per matrix row (a speed knob; any value >= 8 works)
UP_HALF = TAPS // RATIO // 2       # 3: input samples of context on each side of an up-sampled pair
DOWN_LEFT = TAPS // 2 - 1          # 5: x2-rate samples before the first kept output's window
CHUNK_ROWS = 1024                  # up-sampled rows activated at a time (stays in cache)


def suits(alias):
    """True for the anti-aliased activations this form handles: ratio 2, 12-tap filters."""
    return alias.upsample.ratio == RATIO and alias.upsample.filter.numel() == TAPS == \
        alias.downsample.lowpass.filter.numel()


def banded(taps, in_per_out):
    """taps [P, K] -> (main [BLOCK * in_per_out, BLOCK * P], halo [K - in_per_out, BLOCK * P]): the
    matrix M[r * in_per_out + k, r * P + p] = taps[p, k] that maps a block of inputs (plus its halo)
    to BLOCK output positions of P phases each, split at the block's end."""
    phases, width = taps.shape
    m = taps.new_zeros(BLOCK * in_per_out + width - in_per_out, BLOCK * phases)
    r = torch.arange(BLOCK, device=taps.device)
    for p in range(phases):
        for k in range(width):
            m[r * in_per_out + k, r * phases + p] = taps[p, k]
    return m[:BLOCK * in_per_out].contiguous(), m[BLOCK * in_per_out:].contiguous()


def upsample_matrices(up_filter):
    """12 kaiser-sinc taps -> (main [BLOCK, 2 BLOCK], halo [6, 2 BLOCK]) for x2 up-sampling: input
    (padded by 3 on the left) sample j + k feeds output 2j + p with tap h[11 - 2k] (p = 0, k = 0..5)
    or h[12 - 2k] (p = 1, k = 1..6); the x2 gain is kept."""
    h = up_filter.reshape(-1).flip(0) * RATIO  # h[11], h[10], ..., h[0]
    zero = h.new_zeros(1)
    return banded(torch.stack([torch.cat([h[0::2], zero]), torch.cat([zero, h[1::2]])]), 1)  # taps [2, 7]


def _fill_edges(buffer, left, length):
    """buffer [N, L] with a signal at [left, left + length): its end samples repeated outwards, in place."""
    buffer[:, :left] = buffer[:, left:left + 1]
    buffer[:, left + length:] = buffer[:, left + length - 1:left + length]
    return buffer


def _edge_pad(x, left, right):
    """x [N, T] -> [N, left + T + right] with its first / last sample repeated outwards."""
    n, t = x.shape
    out = x.new_empty(n, left + t + right)
    out[:, left:left + t] = x
    return _fill_edges(out, left, t)


def _blocked_filter(padded, main, halo):
    """padded [N, (nb + 1) * K] -> [N, (nb + 1) * J], of which the first nb * J are valid. All rows of
    all channels form one matrix; row r's halo is the head of row r + 1 (for the last row of a
    channel that is the next channel: those outputs are the invalid tail)."""
    n = padded.size(0)
    k, j = main.shape
    rows = padded.view(-1, k)                              # [N * (nb + 1), K]
    out = rows @ main                                      # [N * (nb + 1), J]
    out[:-1].addmm_(rows[1:, :halo.size(0)], halo)         # accumulate in place
    return out.view(n, -1)


def snake_constants(alpha, beta, eps=1e-9):
    """Log-scale Snake-beta parameters [C] -> (exp(alpha), 1 / (exp(beta) + eps)) as [C, 1]."""
    return torch.exp(alpha).view(-1, 1), (1.0 / (torch.exp(beta) + eps)).view(-1, 1)


def _upsample_activate(padded, shape, scale, inv_b, up):
    """No-autograd x2 up-sampling and Snake of the padded input [B*C, (nb + 1) block] of an x of
    `shape` [B, C, T], a few rows at a time so each piece stays in cache, written straight into the
    padded input buffer of the down-sampler: [B*C, 2 (nb + 1) block].

    Row r of the up-sampling product is block r % (nb + 1) of channel r // (nb + 1); writing the
    rows one after another at a flat offset of DOWN_LEFT puts every channel's signal at its place
    in the padded buffer (the few samples that spill into the next channel's left padding, and
    the invalid tail, are overwritten by the edge fill)."""
    b, c, t = shape
    main, halo = up
    block, width = main.shape
    blocks = padded.size(1) // block - 1
    rows = padded.view(-1, block)                                          # [B*C*(nb+1), block]
    count = rows.size(0)
    row_scale = scale.view(1, c, 1).expand(b, c, blocks + 1).reshape(count, 1)
    row_inv_b = inv_b.view(1, c, 1).expand(b, c, blocks + 1).reshape(count, 1)
    flat = padded.new_empty(count * width + DOWN_LEFT)
    for start in range(0, count, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, count)
        z = rows[start:stop] @ main                                        # [rows, 2 block]
        tail = min(stop, count - 1)  # the last row has no next row (its outputs are invalid)
        if tail > start:
            z[:tail - start].addmm_(rows[start + 1:tail + 1, :halo.size(0)], halo)
        wave = torch.mul(z, row_scale[start:stop])
        wave = torch.sin(wave, out=wave).square_()
        dest = flat[DOWN_LEFT + start * width:DOWN_LEFT + stop * width].view(stop - start, width)
        torch.addcmul(z, wave, row_inv_b[start:stop], out=dest)
    return _fill_edges(flat[:count * width].view(b * c, -1), DOWN_LEFT, RATIO * t)


def snake_alias_polyphase(x, scale, inv_b, up, down):
    """x [B, C, T] -> [B, C, T]; scale, inv_b [C, 1]; up, down: the (main, halo) matrix pairs."""
    b, c, t = x.shape
    block = up[0].size(0)
    blocks = -(-t // block)
    up, down = [m.to(x.dtype) for m in up], [m.to(x.dtype) for m in down]
    scale, inv_b = scale.to(x.dtype), inv_b.to(x.dtype)
    # one spare block at the end feeds the last block's halo
    padded = _edge_pad(x.reshape(b * c, t), UP_HALF, (blocks + 1) * block - t - UP_HALF)
    if torch.is_grad_enabled() and (x.requires_grad or scale.requires_grad or inv_b.requires_grad):
        z = _blocked_filter(padded, *up).view(b, c, -1)[..., :RATIO * t]  # [B, C, 2T] interleaved
        z = torch.addcmul(z, torch.sin(z * scale).square(), inv_b).view(b * c, RATIO * t)
        padded = _edge_pad(z, DOWN_LEFT, (blocks + 1) * RATIO * block - RATIO * t - DOWN_LEFT)
    else:
        padded = _upsample_activate(padded, x.shape, scale, inv_b, up)
    return _blocked_filter(padded, *down)[:, :t].reshape(b, c, t)


class PolyphaseSnake(SnakeAlias):
    """SnakeAlias in the polyphase form (autograd or not; the plain form while tracing)."""

    def constants(self, form, compute):
        """compute(alpha, beta, up filter, down filter), kept while no gradient is wanted, until a
        parameter or buffer changes (in place, by load_state_dict, or by moving the module)."""
        tensors = self.act.alpha, self.act.beta, self.upsample.filter, self.downsample.lowpass.filter
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return compute(*tensors)
        key = tuple((t.data_ptr(), 0 if t.is_inference() else t._version) for t in tensors)
        cache = self.__dict__.setdefault("_constants", {})
        if cache.get(form, (None,))[0] != key:
            with torch.no_grad():
                cache[form] = (key, compute(*tensors))
        return cache[form][1]

    def forward(self, x):
        from vits_decoder.fast import tracing
        if tracing():
            return super().forward(x)
        # down-sampling: one output phase of 12 taps per 2 inputs -> main [2 BLOCK, BLOCK], halo [10, BLOCK]
        return snake_alias_polyphase(x, *self.constants("polyphase", lambda alpha, beta, up, down: snake_constants(
            alpha, beta) + (upsample_matrices(up), banded(down.reshape(1, -1), RATIO))))
