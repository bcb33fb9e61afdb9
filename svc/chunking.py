"""Long inputs converted in overlapping chunks and joined with a crossfade: across the `overlap_frames`
two neighbours share, complementary raised-cosine weights (summing to 1 at every sample) pass a signal
both agree on unchanged and blend small disagreements instead of cutting them."""
import math

import numpy as np
from svc.progress import LiveBar


def plan_chunks(total_frames, chunk_frames, overlap_frames):
    """[(start, end)] frame ranges covering [0, total_frames), evenly sized, neighbours overlapping."""
    if total_frames <= 0:
        raise ValueError("nothing to convert: the input has no frames")
    if overlap_frames < 0 or chunk_frames <= 2 * overlap_frames:
        raise ValueError(f"chunk of {chunk_frames} frames must be longer than twice the overlap ({overlap_frames})")
    if total_frames <= chunk_frames:
        return [(0, total_frames)]
    count = math.ceil((total_frames - overlap_frames) / (chunk_frames - overlap_frames))
    # spread the frames evenly instead of leaving a short last chunk
    length = math.ceil((total_frames + (count - 1) * overlap_frames) / count)
    step = length - overlap_frames
    return [(k * step, total_frames if k == count - 1 else k * step + length) for k in range(count)]


def fade_in(n):
    """Raised-cosine ramp 0 -> 1 over n samples; fade_in(n) + fade_in(n)[::-1] == 1."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.sin(0.5 * np.pi * t) ** 2


def chunk_weights(plan, index, hop):
    """Per-sample weights of chunk `index`: fade in over the overlap with the previous chunk,
    fade out over the overlap with the next one, 1 elsewhere."""
    start, end = plan[index]
    weights = np.ones((end - start) * hop)
    if index > 0:
        shared = (plan[index - 1][1] - start) * hop
        weights[:shared] *= fade_in(shared)
    if index + 1 < len(plan):
        shared = (end - plan[index + 1][0]) * hop
        weights[len(weights) - shared:] *= fade_in(shared)[::-1]
    return weights


class Crossfade:
    """Iterating gives each chunk's (start, end) frames, `add(samples [(end - start) * hop])` crossfades
    it in, `result()` is float32 [total_frames * hop]. `progress`: a bar, or progress(done, total)."""

    def __init__(self, total_frames, hop, chunk_frames, overlap_frames, progress=True):
        self.plan = plan_chunks(total_frames, chunk_frames, overlap_frames)
        self.hop, self.progress, self.index = hop, progress, None
        self.out = np.zeros(total_frames * hop, dtype=np.float64)

    def __iter__(self):
        shown = self.progress is True  # else a callable (the web app's progress) or none
        with LiveBar(total=len(self.plan), desc="convert", unit="chunk", disable=not shown) as bar:
            for self.index, chunk in enumerate(self.plan):
                if callable(self.progress):
                    self.progress(self.index, len(self.plan))
                yield chunk
                bar.update()

    def add(self, piece):
        (start, end), hop = self.plan[self.index], self.hop
        piece = np.asarray(piece, dtype=np.float64).reshape(-1)
        if piece.shape[0] != (end - start) * hop:
            raise RuntimeError(f"generator returned {piece.shape[0]} samples for frames {start}:{end}, "
                               f"expected {(end - start) * hop}")
        self.out[start * hop:end * hop] += piece * chunk_weights(self.plan, self.index, hop)

    def result(self):
        return self.out.astype(np.float32)
