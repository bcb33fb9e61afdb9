"""The one queue every heavy job of the web app goes through: one worker, a bounded waiting line (a
job that does not fit is refused at once, never dropped later), each job's place in it."""
import ctypes
import os
import threading
import traceback
from collections import deque
from contextlib import suppress

NICE = 5
# errors whose message is meant for the user (bad file, path, option); anything else is a bug
USER_ERRORS = (ValueError, FileNotFoundError, ImportError)


class QueueFull(ValueError):
    """The waiting line is full; the message says how long it is and what to do."""


def user_message(err):
    """The one line the page shows for an exception."""
    if isinstance(err, USER_ERRORS):
        return str(err)
    return f"internal error ({type(err).__name__}: {err}); the server log has the details."


def release_memory():
    """Hand freed heap memory back to the OS (glibc malloc_trim) when the queue runs empty:
    common.runtime.keep_freed_memory raises glibc's trim threshold to 2 GiB so long conversions do
    not page-fault on every tensor, which would keep a burst of jobs' memory after they end."""
    with suppress(OSError, AttributeError):  # not Linux with glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class JobQueue:
    def __init__(self, max_waiting=8, log=print):
        self.max_waiting, self.log = int(max_waiting), log
        self._waiting = deque()   # (job, work), first in line first
        self._running = 0
        self._cond = threading.Condition()
        threading.Thread(target=self._serve, name="svc-webui-worker", daemon=True).start()

    def submit(self, job, work):
        """Queue `work(job)`; QueueFull when `max_waiting` jobs wait already."""
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"the server is busy: {len(self._waiting)} jobs are waiting and {self._running} "
                                f"running, the most it queues. Try again when they are done.")
            job.queue = self
            self._waiting.append((job, work))
            self._cond.notify()

    def position(self, job):
        """How many jobs run or wait before `job` (0 when it runs, or is not queued)."""
        with self._cond:
            return next((self._running + i for i, (j, _) in enumerate(self._waiting) if j is job), 0)

    def _serve(self):
        # jobs run NICE steps below the server's own threads (Linux: per thread; torch's worker threads,
        # made by the first job, inherit it), so the page answers while a job uses every core
        with suppress(AttributeError, OSError):  # not Linux, or not allowed: same priority
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICE))
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job, work = self._waiting.popleft()
                self._running += 1
            try:
                job.update("starting", 0.0)
                work(job)
                job.fraction, job.stage, job.state = 1.0, "done", "done"
            except Exception as err:  # the page gets one line; the log the line, and a bug's traceback
                job.error, job.state = user_message(err), "error"
                trace = "" if isinstance(err, USER_ERRORS) else "\n" + traceback.format_exc()
                self.log(f"{job.kind} job {job.id} failed: {job.error}{trace}")
            except BaseException as err:  # SystemExit/KeyboardInterrupt: end the job, not silently
                job.error, job.state = f"stopped ({type(err).__name__})", "error"
                raise
            finally:
                with self._cond:
                    self._running -= 1
                    idle = not self._running and not self._waiting
                if idle:
                    release_memory()
