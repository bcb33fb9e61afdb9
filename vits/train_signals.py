"""Graceful stop on Ctrl-C / SIGTERM: the first signal asks the trainer to finish the current
step, save a checkpoint and exit; a second one aborts at once (KeyboardInterrupt)."""
import signal
import threading


class StopRequest:
    def __init__(self):
        self.requested = False
        self.signal_name = None
        self._previous = {}

    def request(self, signum=signal.SIGINT, frame=None):
        if self.requested:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: aborting without saving")
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def install(self):
        """Handle SIGINT and SIGTERM (main thread only; elsewhere nothing is installed)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self.request)
        return self

    def uninstall(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()
        return False
