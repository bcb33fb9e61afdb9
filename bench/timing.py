"""Shared helpers of the bench scripts: thread setup, interleaved timing, a busy neighbour, tables, memory."""
import contextlib
import os
import statistics
import subprocess
import sys
import time

import torch

from common.runtime import cpu_cores, tune_cpu_runtime


def set_threads(threads=None):
    """Our runtime settings (glibc keeps freed memory; torch threads = cores or `threads`)."""
    return tune_cpu_runtime(threads or cpu_cores())


def load_caveat():
    """One line on machine load, printed with every table: absolute times are noisy."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return "load average unknown"
    return f"load average {load:.1f} on {cpu_cores()} cores: absolute times are noisy"


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(runs, rounds=1):
    """`rounds` untimed calls of every callable of runs ({name: zero-arg callable})."""
    for _ in range(rounds):
        for fn in runs.values():
            fn()


CONDITIONS = ("idle", "busy")


@contextlib.contextmanager
def under(condition):
    """Context for one of CONDITIONS: nothing for idle; for busy, one CPU-bound process (a Python loop
    that never sleeps: a user's browser or DAW stands in) started on entry, killed on exit."""
    if condition != "busy":
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
    try:
        time.sleep(0.2)  # let it start spinning before the clock starts
        yield
    finally:
        proc.kill()
        proc.wait()


def time_idle_busy(runs, repeats, device="cpu", warmup=1):
    """runs: {name: zero-arg callable}. Each repeat runs every callable once, in turn, under each of
    CONDITIONS (idle, busy, idle, ...), so load changes from outside hit them alike; `warmup` untimed
    rounds first. Returns {condition: {name: median seconds}}."""
    warm_up(runs, warmup)
    times = {c: {name: [] for name in runs} for c in CONDITIONS}
    for _ in range(max(1, repeats)):
        for condition in CONDITIONS:
            with under(condition):
                for name, fn in runs.items():
                    synchronize(device)
                    start = time.perf_counter()
                    fn()
                    synchronize(device)
                    times[condition][name].append(time.perf_counter() - start)
    return {c: {name: statistics.median(t) for name, t in by_name.items()} for c, by_name in times.items()}


def condition_rows(by_condition, base, cells):
    """One table row per condition and name of time_idle_busy's result: cells(condition, name, seconds,
    the `base` name's seconds / seconds under the same condition)."""
    return [cells(condition, name, t, times[base] / t)
            for condition, times in by_condition.items() for name, t in times.items()]


def print_table(headers, rows):
    """Plain fixed-width table; floats with 3 significant decimals."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
