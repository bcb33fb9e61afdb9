"""The one queue every heavy job of the web app goes through: a fixed number of workers (default one
per process), a bounded waiting line, and each job's place in it for the page to show.

A job that does not fit (the line is full) is refused at once with a message, never dropped later.
When the queue runs empty the freed memory goes back to the system (see `release_memory`).
"""
import ctypes
import os
import platform
import threading
import traceback
from collections import deque


class QueueFull(ValueError):
    """The waiting line is full; the message says how long it is and what to do."""


def release_memory():
    """Hand freed heap memory back to the OS (glibc malloc_trim).

    common.runtime.keep_freed_memory raises glibc's trim threshold to 2 GiB so long conversions do
    not page-fault on every tensor; that is what keeps a burst of jobs' memory after they end. The
    web app keeps that speed-up within a job and trims explicitly whenever its queue runs empty.
    """
    if platform.system() != "Linux":
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):  # not glibc
        return False


class JobQueue:
    def __init__(self, workers=1, max_waiting=8, log=print, user_errors=(ValueError,), message=str, nice=5):
        self.workers = max(1, int(workers))
        self.nice = nice
        self.max_waiting = int(max_waiting)
        self.log, self.user_errors, self.message = log, user_errors, message
        self._waiting = deque()   # (job, work), first in line first
        self._running = 0
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._serve, name=f"svc-webui-worker-{i}", daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, job, work):
        """Queue `work(job)`; QueueFull when `max_waiting` jobs wait already."""
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"the server is busy: {len(self._waiting)} jobs are waiting and {self._running} "
                                f"running, the most it queues. Try again when they are done.")
            job.queue = self
            self._waiting.append((job, work))
            self._cond.notify()
        return job

    def position(self, job):
        """How many jobs run or wait before `job` (0 when it runs, or is not queued)."""
        with self._cond:
            for i, (waiting, _) in enumerate(self._waiting):
                if waiting is job:
                    return self._running + i
            return 0

    def counts(self):
        with self._cond:
            return {"running": self._running, "waiting": len(self._waiting), "workers": self.workers}

    def _lower_priority(self):
        """Jobs run `nice` steps below the server's own threads (Linux: per thread; torch's worker
        threads, made by the first job, inherit it), so the page answers while a job uses every core."""
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + self.nice))
        except (AttributeError, OSError):  # not Linux, or not allowed: same priority
            pass

    def _serve(self):
        if self.nice:
            self._lower_priority()
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job, work = self._waiting.popleft()
                self._running += 1
            try:
                self._run(job, work)
            finally:
                with self._cond:
                    self._running -= 1
                    idle = not self._running and not self._waiting
                if idle:
                    release_memory()

    def _run(self, job, work):
        try:
            job.update("starting", 0.0)
            work(job)
            job.fraction, job.stage, job.state = 1.0, "done", "done"
        except Exception as err:  # the page gets one line; the log gets the line, and the traceback of bugs
            job.error, job.state = self.message(err), "error"
            if isinstance(err, self.user_errors):
                self.log(f"{job.kind} job {job.id} failed: {job.error}")
            else:
                self.log(f"{job.kind} job {job.id} failed: {job.error}\n{traceback.format_exc()}")
        except BaseException as err:  # SystemExit/KeyboardInterrupt in a worker: end the job, not silently
            job.error, job.state = f"stopped ({type(err).__name__})", "error"
            raise
