"""Progress bars that never sit still: a long step inside one bar still moves the screen."""
import threading

from tqdm import tqdm


class LiveBar(tqdm):
    """A tqdm bar redrawn every `every` seconds (its clock moves) until it is closed, so one long
    step - a CREPE pass, a model load, one chunk on a slow CPU - never leaves the screen unchanged."""

    def __init__(self, *args, every=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop = threading.Event()
        if not self.disable:
            threading.Thread(target=self._tick, args=(every,), daemon=True).start()

    def _tick(self, every):
        while not self._stop.wait(every):
            self.refresh()

    def close(self):
        self._stop.set()
        super().close()
