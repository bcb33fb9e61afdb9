"""Relative self-attention with its relative terms added on the 2w+1 diagonals they live on (offsets
beyond the window have zero embeddings): same values and gradients, 3x faster at 2500 frames than the
public [L, 2L-1] offset tables, which tracing still records. The layer (vits.attentions, which
vits_decoder may not import) is recognised by its relative tables and its attend(q, k, v, mask)."""
import functools

import torch
from torch.nn import functional as F

from vits_decoder.fast import tracing


class BandedAttention:
    """Mixed in before the plain layer's class: attend() on the diagonals."""

    def attend(self, q, k, v, attn_mask):
        if tracing():
            return super().attend(q, k, v, attn_mask)
        length = q.size(2)
        reach = min(self.window_size, length - 1)
        # offset o's diagonal: table column w + o, query rows max(0, -o) .. L - max(0, o)
        diagonals = [(o, self.window_size + o, slice(max(0, -o), length - max(0, o))) for o in range(-reach, reach + 1)]
        scores = q @ k.transpose(-2, -1)                        # [B, H, L, L]
        rel_logits = q @ self.emb_rel_k[0].transpose(0, 1)      # [B, H, L, 2w+1], column w + (j - i)
        for o, col, rows in diagonals:
            torch.diagonal(scores, o, -2, -1).add_(rel_logits[..., rows, col])
        weights = self.drop(F.softmax(scores.masked_fill(attn_mask == 0, -1e4), dim=-1))
        band = weights.new_zeros(*weights.shape[:3], self.emb_rel_v.size(1))  # [B, H, L, 2w+1]
        for o, col, rows in diagonals:
            band[..., rows, col] = torch.diagonal(weights, o, -2, -1)
        return weights @ v + band @ self.emb_rel_v[0]


def suits(module):
    return hasattr(module, "emb_rel_k") and hasattr(module, "attend") and not isinstance(module, BandedAttention)


@functools.lru_cache(maxsize=None)
def banded(cls):
    """The subclass of a relative attention class with the banded attend()."""
    return type(f"Banded{cls.__name__}", (BandedAttention, cls), {"__module__": __name__})
