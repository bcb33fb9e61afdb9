"""Running one function over many files, in process or in worker processes, with a progress bar.
A job never raises: its `Outcome` says written, already there, or skipped (why); a `StepReport` counts them.
"""
import contextlib
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from tqdm import tqdm

from common.atomic import is_temp_file
from common.batch import BatchReport

OK, EXISTS, FAIL = "ok", "exists", "fail"


class StepError(RuntimeError):
    """A step that could not run at all (missing model weights, missing input folder...)."""


@dataclass
class Outcome:
    status: str  # OK, EXISTS or FAIL
    path: str  # the input the job worked on
    reason: str = ""  # why it was skipped (FAIL)
    warning: str = ""  # something the user should know although the output was written


class StepReport(BatchReport):
    """BatchReport plus warnings (e.g. 'clip longer than 30 s')."""

    def __init__(self, title):
        super().__init__(title)
        self.warnings = []  # (path, text)

    def add(self, outcome):
        if outcome.status == OK:
            self.ok()
        elif outcome.status == EXISTS:
            self.exists()
        else:
            self.fail(outcome.path, outcome.reason)
        if outcome.warning:
            self.warnings.append((outcome.path, outcome.warning))

    @property
    def usable(self):
        """Outputs that exist after the step: written now or before."""
        return self.done + self.skipped_existing

    def summary(self):
        return "\n".join([super().summary()] + [f"  warning {path}: {text}" for path, text in self.warnings])


def call_job(func, args):
    """Run one job; turn any exception into a FAIL outcome naming the input."""
    try:
        return func(*args)
    except Exception as e:  # one bad input must never stop the batch (Ctrl-C is no Exception)
        return Outcome(FAIL, str(args[0]), str(e) or type(e).__name__)


def _init_worker():
    # Ctrl-C reaches every process of the terminal's process group: a worker leaves it to the main
    # process, which stops the workers (stop_pool) and prints one line instead of one traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # one BLAS/torch thread per worker process: the workers themselves are the parallelism
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def make_pool(workers):
    """A pool of `workers` processes (0: one per CPU core), or None for in-process work (workers <= 1).
    No process starts before the first job is submitted, so a run with nothing to do costs nothing."""
    if workers == 0:
        workers = os.cpu_count() or 1
    if workers <= 1:
        return None
    # forkserver where the OS has it (workers forked from a clean, pre-imported server: safe after
    # CUDA was initialised in the main process, and cheap to start), else spawn
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["prepare.worker_preload"])
    return ProcessPoolExecutor(workers, context, initializer=_init_worker)


def stop_pool(pool, interrupted=False):
    """Shut `pool` down (None: nothing to do). After an interrupt its workers are terminated rather
    than waited for: a job they are in the middle of leaves at most a temp file (remove_temp_files)."""
    if pool is None:
        return
    if not interrupted:
        pool.shutdown(cancel_futures=True)
        return
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(timeout=5)


def run_jobs(func, jobs, report, desc, pool=None):
    """Add the Outcome of `func(*job)` (module-level, to be picklable, with a pool) of every job to
    `report`, which it returns. The bar counts finished jobs."""
    jobs = list(jobs)
    if not jobs:
        return report
    with tqdm(total=len(jobs), desc=desc, unit="file", file=sys.stderr, dynamic_ncols=True) as bar:
        if pool is None:
            outcomes = (call_job(func, job) for job in jobs)
        else:
            outcomes = (f.result() for f in as_completed([pool.submit(call_job, func, job) for job in jobs]))
        try:
            for outcome in outcomes:
                report.add(outcome)
                bar.update(1)
        except BrokenProcessPool as e:
            raise StepError(f"{desc}: a worker process died ({e}); rerun with -t 1 to see why") from None
    return report


def remove_temp_files(*roots):
    """Delete leftovers of interrupted atomic writes under `roots` (missing folders: nothing to do)."""
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in filter(is_temp_file, files):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))
