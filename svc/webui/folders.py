"""Which files the page may name: paths are resolved (symlinks too) and must lie in an allowed folder.
Which of them are SVC models (a `.pt` may be a spectrogram, Whisper or HuBERT weights): those whose
pickle names `model_g` and `enc_p.` keys; no tensor is loaded."""
import fnmatch
import os
import zipfile

from common.atomic import is_temp_file

MARKERS = (b"model_g", b"enc_p.")
LEGACY_HEAD = 8 * 2 ** 20   # a pre-zip torch file: the pickle (with the keys) comes before the tensors
_cache = {}


def _pickle_bytes(path):
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not names:
                return b""
            with archive.open(names[0]) as f:
                return f.read(64 * 2 ** 20)
    with open(path, "rb") as f:
        return f.read(LEGACY_HEAD)


def is_svc_model(path):
    """True when `path` looks like an SVC model (exported or training checkpoint) by its content."""
    if is_temp_file(path):
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = (path, st.st_size, st.st_mtime_ns)  # listing hundreds of files costs one look each
    if key not in _cache:  # a plain dict: two threads may look at one file twice, never read a torn entry
        try:
            data = _pickle_bytes(path)
            _cache[key] = all(marker in data for marker in MARKERS)
        except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
            _cache[key] = False
    return _cache[key]


class PathNotAllowed(ValueError):
    """A path outside the folders the server was started with; the message says which folders are allowed."""


class AllowedFolders:
    """A set of folders (e.g. models, singers, audio); `check` admits only files inside one of them."""

    def __init__(self, folders, what):
        self.what = what
        self.folders = [os.path.realpath(os.fspath(f)) for f in folders]

    def describe(self):
        return ", ".join(self.folders) if self.folders else "(none)"

    def check(self, path, option):
        """The real path of an existing file inside the folders, else PathNotAllowed / FileNotFoundError."""
        if not path or not str(path).strip():
            raise PathNotAllowed(f"no {self.what} chosen: pick one from the list or type its path.")
        path = os.path.expanduser(str(path).strip())
        real = os.path.realpath(path)
        if not any(real == f or real.startswith(f + os.sep) for f in self.folders):
            raise PathNotAllowed(f"{path}: not inside the {self.what} folders this server may read "
                                 f"({self.describe()}). Move the file there, or restart svc_webui.py with "
                                 f"{option} pointing at its folder.")
        if not os.path.isfile(real):
            raise FileNotFoundError(f"{path}: no such {self.what} file. Check the path.")
        return real

    def label(self, path):
        """A short name for a listed file: its path below the allowed folder, led by that folder's name."""
        for root in self.folders:
            if path.startswith(root + os.sep):
                return os.path.join(os.path.basename(root) or root, os.path.relpath(path, root))
        return path

    def list(self, patterns, max_depth=3, limit=500, keep=None):
        """Files matching any of `patterns` (fnmatch on the name) under the folders, sorted, de-duplicated;
        `keep(path)` (when given) filters them before `limit` counts."""
        found = set()
        for root in self.folders:
            for folder, dirs, files in os.walk(root):  # a missing folder yields nothing
                deeper = folder[len(root):].count(os.sep) < max_depth
                dirs[:] = [d for d in dirs if deeper and not d.startswith(".")]
                found.update(p for p in (os.path.join(folder, n) for n in files
                                         if any(fnmatch.fnmatch(n, pat) for pat in patterns))
                             if keep is None or keep(p))
                if len(found) >= limit:
                    break
        return sorted(found)[:limit]
