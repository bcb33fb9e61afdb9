"""Batch jobs over many files: the one extraction loop, input prefetching, and the report of what was
written, found done or skipped (bad files are skipped with a reason, summarised at the end)."""
import os
import sys

import numpy as np

from common.atomic import save_npy


class BatchReport:
    def __init__(self, title):
        self.title = title
        self.done = 0
        self.skipped_existing = 0
        self.failed = []  # (path, reason)

    def ok(self):
        self.done += 1

    def exists(self):
        self.skipped_existing += 1

    def fail(self, path, reason):
        path, reason = str(path), str(reason)
        if reason.startswith(path + ": "):  # errors from common.audio already lead with the file
            reason = reason[len(path) + 2:]
        self.failed.append((path, reason))

    def summary(self):
        lines = [f"{self.title}: {self.done} written, {self.skipped_existing} already done, {len(self.failed)} skipped"]
        for path, reason in self.failed:
            lines.append(f"  skipped {path}: {reason}")
        return "\n".join(lines)

    def print_summary(self, file=None):
        print(self.summary(), file=file or sys.stderr, flush=True)


def _attempt(func, arg):
    try:
        return True, func(arg)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # reported per input by the caller
        return False, str(e) or type(e).__name__


def prefetch(func, args, pool=None, ahead=8):
    """Yield (ok, result_or_reason) of `func(arg)` for every arg, in order.

    With a process pool, up to `ahead` calls run in the workers while the caller works on the
    current result (e.g. audio loading and front ends while a model runs in the main process).
    A worker that dies raises concurrent.futures.process.BrokenProcessPool.
    """
    args = list(args)
    if pool is None:
        for arg in args:
            yield _attempt(func, arg)
        return
    pending = []
    next_index = 0
    while pending or next_index < len(args):
        while next_index < len(args) and len(pending) < ahead:
            pending.append(pool.submit(_attempt, func, args[next_index]))
            next_index += 1
        yield pending.pop(0).result()


def _check_features(array, ndim):
    if array.ndim != ndim or array.shape[0] == 0:
        raise ValueError(f"the model returned shape {array.shape}, expected {ndim} dimension(s)")
    if not np.all(np.isfinite(array)):
        raise ValueError("the model returned NaN or infinite values")


def extract_files(load_model, pairs, report, front, ndim, pool=None, skip_existing=True, progress=True):
    """The batch-extraction loop: for each (input, output .npy) pair, `model(front(input))` saved as
    float32, atomically. Returns `report` (a BatchReport) with every file counted.

    `load_model()` -> model callable; called once, and only when some output is missing.
    `front(input path)` -> model input; a module-level function, run in `pool`'s worker processes
    ahead of the model when a pool is given. `ndim`: dimensions of a model output (1 or 2).
    A file whose front end or model fails is reported and skipped; the batch goes on.
    """
    from tqdm import tqdm

    todo = []
    for src, dst in pairs:
        if skip_existing and os.path.exists(dst):
            report.exists()
        else:
            todo.append((src, dst))
    if not todo:
        return report
    model = load_model()
    results = prefetch(front, [src for src, _ in todo], pool)
    with tqdm(total=len(todo), desc=report.title, unit="file", file=sys.stderr, dynamic_ncols=True,
              disable=not progress) as bar:
        for (src, dst), (ok, value) in zip(todo, results):
            _extract_one(model, src, dst, ok, value, report, ndim)
            bar.update(1)  # after the work: the bar counts finished files, not started ones
    return report


def _extract_one(model, src, dst, ok, value, report, ndim):
    if not ok:
        report.fail(src, value)
        return
    try:
        array = np.asarray(model(value), dtype=np.float32)
        _check_features(array, ndim)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # one bad clip must not stop the batch
        report.fail(src, f"{type(e).__name__}: {e}")
        return
    save_npy(dst, array)
    report.ok()
