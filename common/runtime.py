"""Process-wide CPU settings for long tensor work (conversion, preprocessing, training, benches)."""
import ctypes
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat

import torch

def keep_freed_memory():
    """Let glibc keep freed blocks for reuse instead of returning them to the OS (True when set). By
    default every tensor above 32 MiB is a fresh mmap and every free an munmap, so a long song spends
    its time in page faults zeroing new pages (measured on 30 s of audio through the base generator:
    13 s of system time and RTF 0.68; with this, 0.2 s and RTF 0.41)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        # mallopt parameters -3: M_MMAP_THRESHOLD, -1: M_TRIM_THRESHOLD
        return bool(libc.mallopt(-3, 1 << 30)) and bool(libc.mallopt(-1, 1 << 31))
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to tune
        return False


def cpu_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def tune_cpu_runtime(threads=None):
    """glibc keeps freed memory; torch uses `threads` (default: our cores unless OMP_NUM_THREADS is set)."""
    keep_freed_memory()
    if threads:
        torch.set_num_threads(int(threads))
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_cores())
    return torch.get_num_threads()


def _single_threaded(fn, grad, inference):
    """fn() on a pool thread with the caller's grad and inference mode (they are per thread), torch
    single-threaded (set on every call: MKL's count is process-wide and restored after each map)."""
    torch.set_num_threads(1)
    with torch.set_grad_enabled(grad), torch.inference_mode(inference):
        return fn()


@functools.lru_cache(maxsize=None)
def _pool(workers, pid):
    """One lasting pool per worker count and process (a forked child has none of its parent's threads):
    starting threads on every call (the activations split their rows per call) cost more than it saved."""
    return ThreadPoolExecutor(workers, thread_name_prefix="single-threaded")


def map_single_threaded(functions, workers=None):
    """[f() for f in functions], computed on `workers` threads (default: torch's thread count) that
    each run torch single-threaded and take the next function when done. Why: torch's intra-op
    threading puts a barrier after every operation, and on a shared machine each barrier waits for a
    descheduled thread; independent pieces on their own threads wait only for themselves (and torch
    ops release the GIL)."""
    functions = list(functions)
    workers = min(workers or torch.get_num_threads(), len(functions))
    if workers <= 1:
        return [f() for f in functions]
    grad, inference, threads = torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.get_num_threads()
    try:
        return list(_pool(workers, os.getpid()).map(_single_threaded, functions, repeat(grad), repeat(inference)))
    finally:
        torch.set_num_threads(threads)  # MKL's thread count is process-wide: restore it
