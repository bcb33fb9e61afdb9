"""Remember inputs a step skipped, so a rerun reports them again without re-reading them: in
`<output folder>/.skipped.json` (hidden from the dataset walker), valid while the input's size and
mtime and the step's settings are unchanged."""
import contextlib
import json
import os

from common.atomic import write_text


def _stamp(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


class SkipMemory:
    def __init__(self, folder, settings):
        self.path = os.path.join(folder, ".skipped.json")
        self.settings = settings
        self.entries = {}
        # no memory yet, or unreadable: everything is tried again
        with contextlib.suppress(OSError, ValueError, AttributeError), open(self.path, encoding="utf-8") as f:
            data = json.load(f)
            if data.get("settings") == settings:
                self.entries = data.get("skipped", {})
        self._loaded = dict(self.entries)

    def reason(self, src):
        """The remembered reason `src` was skipped, or None when it must be tried."""
        entry = self.entries.get(os.path.abspath(src))
        with contextlib.suppress(OSError):  # the input is gone: try it
            if entry and entry[0] == _stamp(src):
                return entry[1]
        return None

    def update(self, failed, tried):
        """`failed`: (src, reason) of this run; `tried`: every src this run read."""
        for src in tried:
            self.entries.pop(os.path.abspath(src), None)
        for src, reason in failed:
            with contextlib.suppress(OSError):
                self.entries[os.path.abspath(src)] = [_stamp(src), reason]
        if self.entries != self._loaded:
            text = json.dumps({"settings": self.settings, "skipped": self.entries}, ensure_ascii=False, indent=1)
            write_text(self.path, text)
