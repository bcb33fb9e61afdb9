"""Progress that never sits still: a long step inside one bar, or a step with nothing to count (loading
a model, retrieval, writing a file), still moves the screen at least every REDRAW_SECONDS."""
import sys
import threading

from tqdm import tqdm

REDRAW_SECONDS = 1.0  # the longest a live line stays unchanged
KEEP_STEP_SECONDS = 1.0  # a step line that took at least this long stays on screen with its time


class LiveBar(tqdm):
    """A tqdm bar redrawn every `every` seconds (its clock moves) until it is closed."""

    def __init__(self, *args, every=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop = threading.Event()
        if not self.disable:
            threading.Thread(target=self._tick, args=(every or REDRAW_SECONDS,), daemon=True).start()

    def _tick(self, every):
        while not self._stop.wait(every):
            self.refresh()

    def close(self):
        self._stop.set()
        super().close()


class Step(LiveBar):
    """`with Step("loading model m.pth"):` - `label (00:07)`, its clock running until the step ends; a
    step that took KEEP_STEP_SECONDS or more stays on screen with its time."""

    def __init__(self, label, enabled=True, **kwargs):
        super().__init__(desc=label, total=None, bar_format="{desc} ({elapsed})", leave=True,
                         disable=not enabled, **kwargs)

    def close(self):
        if not self.disable:
            self.leave = self.format_dict["elapsed"] >= KEEP_STEP_SECONDS
        super().close()


def announce(line, enabled=True):
    """Print one line between the bars (a header such as `file 2/5: song.wav`) without breaking them."""
    if enabled:
        tqdm.write(line, file=sys.stderr)
