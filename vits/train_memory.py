"""How much memory a CPU training run needs, told before it starts (a run that outgrows the machine
is killed by the kernel with nothing on screen). The estimate is linear in the parameters, the clips
of a batch and their seconds, and the loader workers; README has the measured table.
"""
import contextlib
import os
import resource
import sys

GB = 1e9
# Least-squares fit of bench/bench_train.py --memory (configs/base.yaml, CPU, batches 1-8, 2 and 4 s
# clips; residuals <= 0.11 GB), rounded up so that the estimate errs on the safe side (+5% at batch 8).
PROCESS_BASE = 0.50 * GB  # torch, the code and the data structures besides the weights
PER_PARAMETER = 16  # float32 weight + gradient + AdamW exp_avg + exp_avg_sq
PER_CLIP = 0.75 * GB  # activations of one clip's decoder window and discriminators
PER_CLIP_SECOND = 0.045 * GB  # activations of the encoders and flow, per second of clip
PER_WORKER = 0.65 * GB  # one DataLoader worker process (measured on a real dataset, issue 24)


def peak_rss_bytes():
    """Peak resident memory of this process so far: Linux VmHWM (its own; ru_maxrss would start at
    the parent's size when a large process started it), else ru_maxrss."""
    with contextlib.suppress(OSError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def available_bytes():
    """Memory the system can give without swapping (Linux MemAvailable), None when unknown."""
    with contextlib.suppress(OSError):
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_bytes(parameters, batch_size, max_seconds, workers):
    """Peak memory of a CPU training run: the main process plus its loader workers."""
    per_clip = PER_CLIP + PER_CLIP_SECOND * float(max_seconds)
    return PROCESS_BASE + PER_PARAMETER * parameters + per_clip * int(batch_size) + PER_WORKER * int(workers)


def largest_batch(parameters, max_seconds, workers, budget):
    """The largest batch size whose estimate fits `budget` bytes (0 when not even 1 fits)."""
    fitting = (b for b in range(1, 1025) if estimate_bytes(parameters, b, max_seconds, workers) <= budget)
    return max(fitting, default=0)  # the estimate grows with the batch: the fitting ones are 1..answer


def memory_advice(parameters, t, available):
    """(estimate in bytes, a warning text or None) for a CPU run with the train section `t`."""
    need = estimate_bytes(parameters, t.batch_size, t.max_seconds, t.num_workers)
    if available is None or need <= available:
        return need, None
    fits = largest_batch(parameters, t.max_seconds, t.num_workers, 0.9 * available)
    advice = (f"set train.batch_size to {fits} (and train.accum_step to keep the batch the optimizer sees)"
              if fits else "lower train.num_workers and train.max_seconds")
    return need, (f"this run needs about {need / GB:.1f} GB of memory (batch {t.batch_size}, "
                  f"{t.max_seconds:g} s clips, {t.num_workers} loader workers) but {available / GB:.1f} GB "
                  f"is available: the system may kill it without a message. {advice[0].upper()}{advice[1:]}.")
