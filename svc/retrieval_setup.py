"""Which feature-retrieval indexes a conversion uses, and loading them once.

Two variants (vits.retrieval, vits.cluster), both pulling every content frame toward a singer's
training data: `(1 - ratio) * own + ratio * target`, where the target is
  mode "index":  the mean of the k nearest training frames (`<kind>.index`)
  mode "kmeans": the mean of the k nearest k-means centres (`<kind>.codebook.npy`, k = 1 usually)
Index paths left out come from `<data_root>/indexes/<singer>/`; the singer defaults to the name of
the speaker file (`data_svc/singer/alice.spk.npy` -> `alice`).
"""
import os
from dataclasses import dataclass
from typing import Optional

from vits.cluster import default_codebook_paths
from vits.retrieval import (BUILD_HINT, ContentRetrieval, IndexNotFoundError, RetrievalError, check_blend_args,
                            default_index_paths, resolve_backend, singer_hint)

MODES = ("index", "kmeans")


@dataclass
class RetrievalSettings:
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
    name = os.path.basename(os.fspath(path))
    for suffix in (".spk.npy", ".npy"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return os.path.splitext(name)[0]


def build_command(path, mode):
    extra = " --kmeans" if mode == "kmeans" else ""
    return BUILD_HINT.format(singer=singer_hint(path)) + extra


def resolve_paths(settings, spk_path):
    """(hubert_path, whisper_path, singer note for error messages)."""
    if settings.mode not in MODES:
        raise RetrievalError(f"retrieval mode {settings.mode!r}: choose one of {', '.join(MODES)}.")
    if settings.singer:
        singer, note = settings.singer, f"singer '{settings.singer}' (--retrieval-singer)"
    else:
        singer = singer_from_speaker_file(spk_path)
        note = f"singer '{singer}', taken from the speaker file name {os.fspath(spk_path)}"
    defaults = (default_index_paths if settings.mode == "index" else default_codebook_paths)(settings.data_root, singer)
    return settings.hubert_path or defaults[0], settings.whisper_path or defaults[1], note


def check_width(retriever, width, what, config_key, mode):
    if retriever.dim != width:
        raise RetrievalError(
            f"{retriever.source}: holds {retriever.dim}-wide frames but the model's {what} are {width}-wide "
            f"({config_key}): it was built from another extractor's features. Build it from this model's "
            f"training features: {build_command(retriever.source, mode)} --force")


def load_retrieval(settings, spk_path, hp):
    """ContentRetrieval for the settings (indexes loaded once), checked against the model's widths."""
    check_blend_args(settings.ratio, settings.k)
    resolve_backend(settings.backend)
    hubert_path, whisper_path, note = resolve_paths(settings, spk_path)
    try:
        retrieval = ContentRetrieval.from_paths(hubert_path, whisper_path, settings.ratio, settings.k, settings.backend)
    except IndexNotFoundError as err:
        if settings.hubert_path and settings.whisper_path:
            raise
        raise IndexNotFoundError(f"{err} (looked there for {note}; choose the singer with --retrieval-singer "
                                 f"NAME and --data-svc, or give the index paths)") from None
    check_width(retrieval.hubert_index, hp.vits.vec_dim, "HuBERT units", "vits.vec_dim", settings.mode)
    check_width(retrieval.whisper_index, hp.vits.ppg_dim, "PPG", "vits.ppg_dim", settings.mode)
    return retrieval
