"""Feature retrieval for timbre-leak control: pull content features toward a singer's training frames.

An index is two files in `<data_root>/indexes/<singer>/`:
  `<kind>.index`       a small JSON manifest (format, width, frame count, dtype, frames file name)
  `<kind>.frames.npy`  the training frames, float32 (or float16) [N, D]
The search structure (faiss IndexFlatL2 or scikit-learn NearestNeighbors, both exact L2) is rebuilt
from the frames at load time, so nothing is ever unpickled. A binary faiss index written by the
upstream so-vits-svc-5.0 trainer is also accepted (needs faiss): its vectors are searched exactly.
The "cluster" variant searches k-means centres instead, `<kind>.codebook.npy` (float32 [K, D],
svc.retrieval_build). Both variants blend `(1 - ratio) * own + ratio * target`.
"""
import json
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from common.atomic import save_npy, write_text

INDEX_FORMAT = "svc-feature-index"
INDEX_VERSION = 1
FEATURE_KINDS = ("hubert", "whisper")
BACKENDS = ("auto", "faiss", "sklearn")
QUERY_BATCH = 1024  # frames per search call; bounds the [B, k, D] neighbour gather


class RetrievalError(ValueError):
    """Bad index file, bad query or bad blend settings."""


class IndexNotFoundError(RetrievalError, FileNotFoundError):
    """The index (or codebook) file does not exist."""


def default_index_paths(data_root, singer, suffix=".index"):
    """(hubert path, whisper path) of a singer's indexes (or, suffix ".codebook.npy", k-means codebooks)
    under `<data_root>/indexes/<singer>/`."""
    folder = os.path.join(os.fspath(data_root), "indexes", singer)
    return tuple(os.path.join(folder, kind + suffix) for kind in FEATURE_KINDS)


def frames_path_for(index_path):
    """`.../hubert.index` -> `.../hubert.frames.npy`."""
    return os.fspath(index_path).removesuffix(".index") + ".frames.npy"


def build_command(path, extra=""):
    """The command that (re)builds the index at `<...>/indexes/<singer>/<file>`, for error messages."""
    singer = os.path.basename(os.path.dirname(os.path.abspath(os.fspath(path)))) or "SINGER"
    return f"python svc_train_retrieval.py -s {singer}{extra}"


# ---------------------------------------------------------------- search backends

def resolve_backend(backend):
    if backend not in BACKENDS:
        raise RetrievalError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}.")
    if backend == "auto":
        try:
            import faiss  # noqa: F401
        except ImportError:
            return "sklearn"
        return "faiss"
    return backend


def make_search(frames, backend):
    """search(queries [B, D], k) -> ids [B, k], nearest first: exact L2 with faiss IndexFlatL2 or
    scikit-learn NearestNeighbors (brute force or kd-tree, chosen by sklearn)."""
    if backend == "faiss":
        try:
            import faiss
        except ImportError as err:
            raise RetrievalError("backend 'faiss' needs faiss-cpu: pip install faiss-cpu, "
                                 "or use backend 'sklearn' (same neighbours, exact L2).") from err
        index = faiss.IndexFlatL2(frames.shape[1])
        index.add(frames)
        return lambda queries, k: index.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1]
    from sklearn.neighbors import NearestNeighbors
    model = NearestNeighbors(algorithm="auto", metric="euclidean").fit(frames)
    return lambda queries, k: model.kneighbors(queries, n_neighbors=k, return_distance=False)


# ---------------------------------------------------------------- blending

def check_blend_args(ratio, k):
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.floating, np.integer)):
        raise RetrievalError(f"retrieval ratio {ratio!r} must be a number in [0, 1].")
    if not 0.0 <= float(ratio) <= 1.0:
        raise RetrievalError(f"retrieval ratio {ratio} is outside [0, 1]: 0 keeps the input, 1 uses only "
                             "the retrieved training frames.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise RetrievalError(f"k = {k!r}: the number of neighbours must be an integer >= 1.")


def as_numpy_frames(features):
    """(float32 numpy [T, D], function mapping a numpy result back to the input's type)."""
    if hasattr(features, "detach"):  # torch tensor: hand back a tensor on the same device and dtype
        def restore(result):
            import torch
            tensor = torch.from_numpy(np.ascontiguousarray(result))
            return tensor.to(device=features.device, dtype=features.dtype)
        return features.detach().float().cpu().numpy(), restore
    return np.asarray(features, dtype=np.float32), lambda result: result


class FeatureIndex:
    """Training frames of one singer and one feature kind, with exact L2 nearest-neighbour search."""

    def __init__(self, frames, backend="auto", source="<memory>"):
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise RetrievalError(f"{source}: index frames must be a non-empty [N, D] array, got shape "
                                 f"{frames.shape}. Rebuild with: {build_command(source, ' --force')}")
        self.frames = np.ascontiguousarray(frames, dtype=np.float32)  # [N, D]
        self.size, self.dim = self.frames.shape
        self.source = os.fspath(source)
        self.backend = resolve_backend(backend)
        self.search = make_search(self.frames, self.backend)

    @classmethod
    def load(cls, path, backend="auto"):
        """Load `<kind>.index` (our JSON manifest + frames .npy, or an upstream binary faiss index)."""
        path = os.fspath(path)
        resolve_backend(backend)  # reject a bad backend name before touching files
        if not os.path.isfile(path):
            raise IndexNotFoundError(f"{path}: retrieval index not found. Build it with: "
                                     f"{build_command(path)}")
        with open(path, "rb") as f:
            manifest = f.read(1) == b"{"
        return cls(read_manifest_frames(path) if manifest else read_faiss_vectors(path), backend, path)

    def nearest_ids(self, features, k=3):
        """Indices [T, k] of each frame's k nearest training frames (nearest first), searched in batches."""
        features, _ = as_numpy_frames(features)
        if features.ndim != 2:
            raise RetrievalError(f"features for {self.source} must be [frames, {self.dim}], "
                                 f"got shape {features.shape}.")
        if features.shape[1] != self.dim:
            raise RetrievalError(
                f"{self.source}: index holds {self.dim}-wide features but the input is {features.shape[1]}-wide "
                f"(wrong index for this feature kind, or built with another extractor model). Rebuild it with: "
                f"{build_command(self.source, ' --force')}")
        k = min(int(k), self.size)
        out = np.empty((features.shape[0], k), dtype=np.int64)
        for start in range(0, features.shape[0], QUERY_BATCH):
            out[start:start + QUERY_BATCH] = self.search(features[start:start + QUERY_BATCH], k)
        return out

    def blend(self, features, ratio=0.5, k=3):
        """(1 - ratio) * own + ratio * mean of the k nearest training frames, [T, D] -> [T, D]; ratio 0
        returns `features` itself. numpy in -> numpy out; torch tensor in -> tensor out."""
        check_blend_args(ratio, k)
        if ratio == 0:
            return features
        array, restore = as_numpy_frames(features)
        ids = self.nearest_ids(array, k)  # [T, k]
        retrieved = np.empty_like(array)
        for start in range(0, array.shape[0], QUERY_BATCH):  # [B, k, D] -> [B, D]
            retrieved[start:start + QUERY_BATCH] = self.frames[ids[start:start + QUERY_BATCH]].mean(axis=1)
        if ratio == 1:
            return restore(retrieved)
        ratio = np.float32(ratio)
        return restore((np.float32(1) - ratio) * array + ratio * retrieved)


class Codebook(FeatureIndex):
    """Exact L2 search over k-means centres; `blend` defaults to the single nearest centre."""

    @classmethod
    def load(cls, path, backend="auto"):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise IndexNotFoundError(f"{path}: k-means codebook not found. Build it with: "
                                     f"{build_command(path, ' --kmeans')}")
        try:
            centres = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise RetrievalError(f"{path}: unreadable codebook ({err}). Rebuild it with: "
                                 f"{build_command(path, ' --kmeans --force')}") from err
        return cls(centres, backend=backend, source=path)

    def blend(self, features, ratio=0.5, k=1):
        return super().blend(features, ratio, k)


class ContentRetrieval:
    """Both indexes of a singer; `retrieval(ppg, vec) -> (ppg, vec)` blends each toward its index."""

    def __init__(self, hubert_index, whisper_index, ratio=0.5, k=3):
        check_blend_args(ratio, k)
        self.hubert_index, self.whisper_index = hubert_index, whisper_index
        self.ratio, self.k = ratio, k

    @classmethod
    def from_paths(cls, hubert_index_path, whisper_index_path, ratio=0.5, k=3, backend="auto"):
        """Either path may be None to leave that feature alone. Codebook paths (.npy) work too."""
        def load(path):
            if path is None:
                return None
            return (Codebook if os.fspath(path).endswith(".npy") else FeatureIndex).load(path, backend)
        return cls(load(hubert_index_path), load(whisper_index_path), ratio, k)

    def __call__(self, ppg, vec):
        if self.whisper_index is not None:
            ppg = self.whisper_index.blend(ppg, self.ratio, self.k)
        if self.hubert_index is not None:
            vec = self.hubert_index.blend(vec, self.ratio, self.k)
        return ppg, vec


# ---------------------------------------------------------------- storage

def write_index(path, frames, kind, dtype="float32", extra=None):
    """Write frames .npy, then the JSON manifest (last, so a present manifest means a complete index)."""
    if dtype not in ("float32", "float16"):
        raise RetrievalError(f"index dtype {dtype!r}: use float32 or float16.")
    frames = np.asarray(frames, dtype=np.float32)
    frames_file = frames_path_for(path)
    save_npy(frames_file, frames.astype(dtype))
    manifest = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "kind": kind, "dim": int(frames.shape[1]),
                "frames": int(frames.shape[0]), "dtype": dtype, "frames_file": os.path.basename(frames_file)}
    manifest.update(extra or {})
    write_text(path, json.dumps(manifest, indent=1) + "\n")
    return path


def read_manifest_frames(path):
    fix = f"Rebuild it with: {build_command(path, ' --force')}"
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as err:
        raise RetrievalError(f"{path}: unreadable retrieval index ({err}). {fix}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        raise RetrievalError(f"{path}: not a retrieval index of this toolkit. {fix}")
    frames_file = os.path.join(os.path.dirname(path), str(manifest.get("frames_file", "")))
    if not os.path.isfile(frames_file):
        raise IndexNotFoundError(f"{path}: its frames file {frames_file} is missing. {fix}")
    try:
        frames = np.load(frames_file, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise RetrievalError(f"{frames_file}: unreadable frames file ({err}). {fix}") from err
    if frames.shape != (manifest.get("frames"), manifest.get("dim")) or frames.dtype.kind != "f":
        raise RetrievalError(f"{frames_file}: holds {frames.dtype} {frames.shape}, the manifest says "
                             f"[{manifest.get('frames')}, {manifest.get('dim')}] (interrupted or mixed build). {fix}")
    return np.asarray(frames, dtype=np.float32)


def read_faiss_vectors(path):
    """All vectors of a binary faiss index (flat or IVF, e.g. one built by upstream so-vits-svc-5.0)."""
    try:
        import faiss
    except ImportError as err:
        raise RetrievalError(f"{path}: this is a binary faiss index; reading it needs faiss-cpu "
                             f"(pip install faiss-cpu), or rebuild it with: "
                             f"{build_command(path, ' --force')}") from err
    try:
        index = faiss.read_index(path)
        try:
            faiss.extract_index_ivf(index).make_direct_map()
        except RuntimeError:
            pass  # not an IVF index: flat indexes reconstruct directly
        return index.reconstruct_n(0, index.ntotal)
    except RuntimeError as err:
        raise RetrievalError(f"{path}: unreadable faiss index ({str(err).splitlines()[0]}). Rebuild it with: "
                             f"{build_command(path, ' --force')}") from err


# ---------------------------------------------------------------- what a conversion uses

MODES = ("index", "kmeans")  # nearest training frames (`<kind>.index`) or k-means centres (`.codebook.npy`)


@dataclass
class RetrievalSettings:
    """Index paths left out come from `<data_root>/indexes/<singer>/`; the singer defaults to the
    name of the speaker file (`data_svc/singer/alice.spk.npy` -> `alice`)."""
    mode: str = "index"
    ratio: float = 0.5
    k: int = 3
    hubert_path: Optional[str] = None
    whisper_path: Optional[str] = None
    singer: Optional[str] = None      # None: the speaker file's name
    data_root: str = "data_svc"
    backend: str = "auto"             # auto (faiss when installed, else sklearn), faiss, sklearn


def singer_from_speaker_file(path):
    """`data_svc/singer/alice.spk.npy` -> `alice`."""
    name = os.path.basename(os.path.normpath(os.fspath(path)))  # (a folder of clips may end in /)
    for suffix in (".spk.npy", ".npy"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return os.path.splitext(name)[0]


def load_retrieval(settings, spk_path, hp):
    """ContentRetrieval for the settings (indexes loaded once), checked against the model's widths."""
    check_blend_args(settings.ratio, settings.k)
    resolve_backend(settings.backend)
    if settings.mode not in MODES:
        raise RetrievalError(f"retrieval mode {settings.mode!r}: choose one of {', '.join(MODES)}.")
    if settings.singer:
        singer, note = settings.singer, f"singer '{settings.singer}' (--retrieval-singer)"
    else:
        singer = singer_from_speaker_file(spk_path)
        note = f"singer '{singer}', taken from the speaker file name {os.fspath(spk_path)}"
    suffix = ".index" if settings.mode == "index" else ".codebook.npy"
    defaults = default_index_paths(settings.data_root, singer, suffix)
    hubert_path, whisper_path = settings.hubert_path or defaults[0], settings.whisper_path or defaults[1]
    try:
        retrieval = ContentRetrieval.from_paths(hubert_path, whisper_path, settings.ratio, settings.k, settings.backend)
    except IndexNotFoundError as err:
        if settings.hubert_path and settings.whisper_path:
            raise
        raise IndexNotFoundError(f"{err} (looked there for {note}; choose the singer with --retrieval-singer "
                                 f"NAME and --data-svc, or give the index paths)") from None
    extra = " --kmeans --force" if settings.mode == "kmeans" else " --force"
    for index, width, what, key in ((retrieval.hubert_index, hp.vits.vec_dim, "HuBERT units", "vits.vec_dim"),
                                    (retrieval.whisper_index, hp.vits.ppg_dim, "PPG", "vits.ppg_dim")):
        if index.dim != width:
            raise RetrievalError(
                f"{index.source}: holds {index.dim}-wide frames but the model's {what} are {width}-wide "
                f"({key}): it was built from another extractor's features. Build it from this model's "
                f"training features: {build_command(index.source, extra)}")
    return retrieval
