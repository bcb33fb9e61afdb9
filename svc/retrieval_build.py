"""Per-singer retrieval indexes (and optional k-means codebooks) from `<data>/hubert/<singer>/*.vec.npy`
and `<data>/whisper/<singer>/*.ppg.npy`: `<out>/<singer>/{hubert,whisper}.index` + `.frames.npy`
(+ `.codebook.npy` with k-means). Resumable: products that already exist are skipped unless `force`."""
import os
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from common.atomic import save_npy
from common.batch import BatchReport
from common.dataset import iter_dataset
from svc.retrieval import FEATURE_KINDS, FeatureIndex, RetrievalError, frames_path_for, resolve_backend, write_index

FEATURE_SUFFIX = {"hubert": ".vec.npy", "whisper": ".ppg.npy"}
SELF_CHECK_FRAMES = 64
DEFAULT_CODEBOOK_SIZE = 2048
FRAMES_PER_CENTRE = 10  # a codebook never has more centres than a tenth of its frames
KMEANS_EPOCHS = 10  # passes over the frames (measured against MiniBatchKMeans.fit: see train_codebook)


def train_codebook(frames, size=DEFAULT_CODEBOOK_SIZE, desc="k-means", progress=False):
    """MiniBatchKMeans centres, float32 [K, D]: K = `size`, but at most one per FRAMES_PER_CENTRE frames
    (a codebook as large as the data compresses nothing), and at least one. Trained batch by batch
    (k-means++ on the first, then KMEANS_EPOCHS shuffled passes) so a bar can count the batches: a
    codebook of a large dataset takes minutes."""
    from sklearn.cluster import MiniBatchKMeans
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise RetrievalError(f"k-means needs a non-empty [N, D] frame array, got shape {frames.shape}.")
    if size < 1:
        raise RetrievalError(f"codebook size {size} must be >= 1.")
    n_frames = frames.shape[0]
    n_clusters = max(1, min(int(size), n_frames // FRAMES_PER_CENTRE))
    batch = min(n_frames, max(1024, 3 * n_clusters))
    kmeans = MiniBatchKMeans(n_clusters=n_clusters, batch_size=batch, n_init=1, random_state=0)
    rng = np.random.default_rng(0)
    per_epoch = -(-n_frames // batch)
    with tqdm(total=KMEANS_EPOCHS * per_epoch, desc=desc, unit="batch", file=sys.stderr, dynamic_ncols=True,
              disable=not progress) as bar:
        for _ in range(KMEANS_EPOCHS):
            order = rng.permutation(n_frames)
            for start in range(0, n_frames, batch):
                rows = order[start:start + batch]
                if not hasattr(kmeans, "cluster_centers_") and rows.size < n_clusters:
                    rows = order[:batch]  # the first call sets the centres: it needs n_clusters frames
                kmeans.partial_fit(frames[np.sort(rows)])
                bar.update(1)
    return kmeans.cluster_centers_.astype(np.float32)


class IndexReport(BatchReport):
    """BatchReport that also lists every file written and what it holds."""

    def __init__(self, title):
        super().__init__(title)
        self.written = []  # (path, description)

    def summary(self):
        return "\n".join([super().summary()] + [f"  wrote {path}: {text}" for path, text in self.written])


def feature_files_by_singer(data_root, kind):
    """{singer: [paths]} for `<data_root>/<kind>/<singer>/*<suffix>`; empty when the folder is absent."""
    root = os.path.join(os.fspath(data_root), kind)
    if not os.path.isdir(root):
        return {}
    files = {}
    for singer, _, path in iter_dataset(root, accept=lambda fname: fname.endswith(FEATURE_SUFFIX[kind])):
        files.setdefault(singer, []).append(path)
    return files


def load_feature_file(path):
    """float32 [T, D] frames of one feature file; ValueError with the reason when unusable."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"unreadable .npy ({err})") from err
    if array.ndim != 2 or array.shape[0] == 0 or array.dtype.kind != "f":
        raise ValueError(f"expected a non-empty float [frames, dim] array, got {array.dtype} {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("contains NaN or infinite values")
    return array.astype(np.float32, copy=False)


def collect_frames(paths, report, desc):
    """Concatenated frames [N, D] of all usable files, or None if none. Bad files, and files whose width
    differs from the singer's dominant width (the one holding most frames), go to `report`."""
    arrays = {}
    for path in tqdm(paths, desc=desc, unit="file"):
        try:
            arrays[path] = load_feature_file(path)
        except ValueError as err:
            report.fail(path, err)
    if not arrays:
        return None
    frames_per_width = Counter()
    for array in arrays.values():
        frames_per_width[array.shape[1]] += array.shape[0]
    width = frames_per_width.most_common(1)[0][0]
    for path, array in arrays.items():
        if array.shape[1] != width:
            report.fail(path, f"{array.shape[1]}-wide frames, but this singer's other files are {width}-wide "
                              "(mixed extractor models? re-run the feature extraction step)")
    return np.concatenate([a for a in arrays.values() if a.shape[1] == width], axis=0)


def self_check(index_path, backend):
    """Reload the index with `backend` and check training frames find themselves at distance 0."""
    index = FeatureIndex.load(index_path, backend=backend)
    rows = np.linspace(0, index.size - 1, num=min(SELF_CHECK_FRAMES, index.size)).astype(np.int64)
    found = index.frames[index.nearest_ids(index.frames[rows], k=1)[:, 0]]
    if not np.array_equal(found, index.frames[rows]):
        raise RetrievalError(f"{index_path}: self-check failed with backend {index.backend}: "
                             "training frames are not their own nearest neighbours.")


@dataclass
class BuildOptions:
    backend: str = "auto"
    dtype: str = "float32"
    kmeans: bool = False                       # also a k-means codebook per singer and feature
    codebook_size: int = DEFAULT_CODEBOOK_SIZE
    max_frames: int = 0                        # frames kept in an index (0 = all)
    force: bool = False                        # rebuild what exists
    progress: bool = True                      # a bar over k-means batches


def build_singer_indexes(data_root="data_svc", out_root=None, singers=None, **options):
    """Build indexes for `singers` (default: every singer with features); `options`: the fields of
    BuildOptions. Returns a BatchReport."""
    options = BuildOptions(**options)
    backend = options.backend = resolve_backend(options.backend)
    out_root = os.fspath(out_root) if out_root else os.path.join(os.fspath(data_root), "indexes")
    files = {kind: feature_files_by_singer(data_root, kind) for kind in FEATURE_KINDS}
    known = sorted(set().union(*files.values()))
    if not known:
        raise RetrievalError(f"{data_root}: no feature files under {data_root}/hubert/<singer>/*.vec.npy or "
                             f"{data_root}/whisper/<singer>/*.ppg.npy. Run the preprocessing steps first.")
    singers = list(singers) if singers else known
    unknown = [s for s in singers if s not in known]
    if unknown:
        raise RetrievalError(f"singer(s) {', '.join(unknown)} have no features in {data_root}/hubert or "
                             f"{data_root}/whisper. Known singers: {', '.join(known)}.")
    report = IndexReport(f"retrieval indexes ({backend})")
    for singer in singers:
        for kind in FEATURE_KINDS:
            build_one(singer, kind, files[kind].get(singer, []), os.path.join(out_root, singer), report, options)
    return report


def build_one(singer, kind, paths, folder, report, options):
    o = options
    index_path = os.path.join(folder, f"{kind}.index")
    codebook_path = os.path.join(folder, f"{kind}.codebook.npy")
    complete = os.path.isfile(index_path) and os.path.isfile(frames_path_for(index_path))
    need_index = o.force or not complete
    need_codebook = o.kmeans and (o.force or not os.path.isfile(codebook_path))
    if not (need_index or need_codebook):
        report.exists()
        return
    if not paths:
        report.fail(f"{singer}/{kind}", f"no {FEATURE_SUFFIX[kind]} files for this singer; run the {kind} "
                                        "feature extraction step")
        return
    frames = collect_frames(paths, report, desc=f"{singer} {kind}")
    if frames is None:
        report.fail(f"{singer}/{kind}", "no usable feature files (see the skipped files above)")
        return
    n_frames = int(frames.shape[0])
    if need_index:
        kept = frames
        if o.max_frames and n_frames > o.max_frames:  # a random subset, kept in order
            kept = frames[np.sort(np.random.default_rng(0).choice(n_frames, o.max_frames, replace=False))]
        write_index(index_path, kept, kind, dtype=o.dtype, extra={"singer": singer, "source_frames": n_frames})
        self_check(index_path, o.backend)
        sampled = f", sampled from {n_frames}" if kept.shape[0] < n_frames else ""
        report.written.append((index_path, f"{kept.shape[0]} frames x {kept.shape[1]} ({o.dtype}{sampled})"))
    if need_codebook:
        centres = train_codebook(frames, o.codebook_size, desc=f"{singer} {kind} k-means", progress=o.progress)
        save_npy(codebook_path, centres)
        capped = "" if centres.shape[0] == o.codebook_size else \
            f"; --codebook-size {o.codebook_size} capped at one centre per {FRAMES_PER_CENTRE} frames"
        report.written.append((codebook_path, f"k-means codebook, {centres.shape[0]} centres from {n_frames} "
                                              f"frames{capped}"))
    report.ok()
