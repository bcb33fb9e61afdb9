"""K-means codebook of a singer's training frames (the "cluster" variant of feature retrieval).

`<kind>.codebook.npy` holds float32 centres [K, D]; blending pulls each frame toward its nearest
centre(s) instead of toward raw training frames.
"""
import os

import numpy as np

from common.atomic import save_npy
from vits.retrieval import BUILD_HINT, FeatureIndex, IndexNotFoundError, RetrievalError, singer_hint

DEFAULT_CODEBOOK_SIZE = 2048


def default_codebook_paths(data_root, singer):
    """(hubert_codebook_path, whisper_codebook_path) under `<data_root>/indexes/<singer>/`."""
    folder = os.path.join(os.fspath(data_root), "indexes", singer)
    return os.path.join(folder, "hubert.codebook.npy"), os.path.join(folder, "whisper.codebook.npy")


def train_codebook(frames, size=DEFAULT_CODEBOOK_SIZE, seed=0):
    """MiniBatchKMeans centres, float32 [min(size, N), D]."""
    from sklearn.cluster import MiniBatchKMeans
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise RetrievalError(f"k-means needs a non-empty [N, D] frame array, got shape {frames.shape}.")
    if size < 1:
        raise RetrievalError(f"codebook size {size} must be >= 1.")
    n_clusters = min(int(size), frames.shape[0])
    kmeans = MiniBatchKMeans(n_clusters=n_clusters, batch_size=max(1024, 2 * n_clusters), n_init=1,
                             random_state=seed)
    kmeans.fit(frames)
    return kmeans.cluster_centers_.astype(np.float32)


def write_codebook(path, centres):
    save_npy(path, np.asarray(centres, dtype=np.float32))
    return path


class Codebook(FeatureIndex):
    """Exact L2 search over k-means centres; `blend` defaults to the single nearest centre."""

    @classmethod
    def load(cls, path, backend="auto"):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise IndexNotFoundError(f"{path}: k-means codebook not found. Build it with: "
                                     f"{BUILD_HINT.format(singer=singer_hint(path))} --kmeans")
        try:
            centres = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise RetrievalError(f"{path}: unreadable codebook ({err}). Rebuild it with: "
                                 f"{BUILD_HINT.format(singer=singer_hint(path))} --kmeans --force") from err
        return cls(centres, backend=backend, source=path)

    def blend(self, features, ratio=0.5, k=1):
        return super().blend(features, ratio, k)
