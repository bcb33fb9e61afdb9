"""Batch d-vector extraction: audio front end (optionally in worker processes), LSTM in batches here."""
import collections
import itertools
import os

from common.atomic import save_npy
from common.audio import load_audio
from common.batch import BatchReport
from speaker.audio import SAMPLE_RATE, melspectrogram

FILES_PER_BATCH = 16
AHEAD_PER_WORKER = 4  # front-end results queued per worker: bounds memory on big datasets


def front_end(path):
    """Worker job: audio file -> (mel [T, 80] or None, reason it failed or None)."""
    try:
        return melspectrogram(load_audio(path, SAMPLE_RATE)), None
    except Exception as e:  # reported per file by the caller
        return None, f"{type(e).__name__}: {e}"


def _front_ends_in_order(paths, pool, ahead):
    """front_end(path) for each path, in order; with a pool, at most `ahead` jobs are in flight."""
    if pool is None:
        yield from map(front_end, paths)
        return
    remaining = iter(paths)
    pending = collections.deque(pool.submit(front_end, p) for p in itertools.islice(remaining, ahead))
    while pending:
        result = pending.popleft().result()
        for path in itertools.islice(remaining, 1):
            pending.append(pool.submit(front_end, path))
        yield result


def extract_files(encoder, in_paths, out_paths, skip_existing=True, progress=True, workers=0):
    """Write encoder's d-vector of each input to the matching output path (.npy, atomically)."""
    from tqdm import tqdm

    in_paths, out_paths = list(in_paths), list(out_paths)
    if len(in_paths) != len(out_paths):
        raise ValueError(f"{len(in_paths)} input files but {len(out_paths)} output paths")
    report = BatchReport("speaker d-vectors")
    todo = []
    for src, dst in zip(in_paths, out_paths):
        if skip_existing and os.path.isfile(dst):
            report.exists()
        else:
            todo.append((src, dst))
    pool = None
    if workers > 0 and len(todo) > 1:
        import concurrent.futures
        import multiprocessing

        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        results = _front_ends_in_order([src for src, _ in todo], pool, max(1, workers) * AHEAD_PER_WORKER)
        pairs = zip(todo, results)
        with tqdm(total=len(todo), desc="speaker", unit="file", disable=not progress) as bar:
            while batch := list(itertools.islice(pairs, FILES_PER_BATCH)):
                ready = []
                for (src, dst), (mel, reason) in batch:
                    if mel is None:
                        report.fail(src, reason)
                    else:
                        ready.append((dst, mel))
                for (dst, _), vector in zip(ready, encoder.embed_mels([mel for _, mel in ready])):
                    save_npy(dst, vector)
                    report.ok()
                bar.update(len(batch))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return report
