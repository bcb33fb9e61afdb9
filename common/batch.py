"""Batch jobs over many files: the one extraction loop, input prefetching, and the report of what was
written, found done or skipped with a reason."""
import collections
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
        # errors from common.audio already lead with the file
        self.failed.append((str(path), str(reason).removeprefix(f"{path}: ")))

    def summary(self):
        lines = [f"{self.title}: {self.done} written, {self.skipped_existing} already done, {len(self.failed)} skipped"]
        return "\n".join(lines + [f"  skipped {path}: {reason}" for path, reason in self.failed])

    def print_summary(self, file=None):
        print(self.summary(), file=file or sys.stderr, flush=True)


def _attempt(func, arg):
    try:
        return True, func(arg)
    except Exception as e:  # reported per input by the caller
        return False, str(e) or type(e).__name__


def prefetch(func, args, pool=None, ahead=8):
    """Yield (ok, result_or_reason) of `func(arg)` for every arg, in order. With a process pool, up
    to `ahead` calls run in the workers while the caller works on the current result (e.g. audio
    loading and front ends while a model runs in the main process)."""
    if pool is None:
        yield from (_attempt(func, arg) for arg in args)
        return
    pending = collections.deque()
    for arg in args:
        pending.append(pool.submit(_attempt, func, arg))
        if len(pending) == ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def extract_files(load_model, pairs, report, front, ndim, pool=None, skip_existing=True, progress=True):
    """For each (input, output .npy) pair, `load_model()(front(input))` saved as float32, atomically (the
    model loaded once, when some output is missing; `front` is module-level, run ahead in `pool`'s worker
    processes); a file whose front end or model fails, or whose output has not `ndim` dimensions, is
    reported and skipped. Returns `report` with every file counted."""
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
            if ok:  # else `value` is the front end's failure
                try:
                    value = np.asarray(model(value), dtype=np.float32)
                    if value.ndim != ndim or value.shape[0] == 0:
                        raise ValueError(f"the model returned shape {value.shape}, expected {ndim} "
                                         f"dimension(s)")
                    if not np.all(np.isfinite(value)):
                        raise ValueError("the model returned NaN or infinite values")
                except MemoryError:
                    raise
                except Exception as e:  # one bad clip must not stop the batch
                    ok, value = False, f"{type(e).__name__}: {e}"
            if ok:
                save_npy(dst, value)
                report.ok()
            else:
                report.fail(src, value)
            bar.update(1)  # after the work: the bar counts finished files, not started ones
    return report
