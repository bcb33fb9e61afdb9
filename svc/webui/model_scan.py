"""Which files under the model folders are SVC models: told by their content, not their name.

A `.pt` may be a spectrogram (data_svc/specs), Whisper or HuBERT weights, or the temp file of a
killed save. An SVC model file holds `model_g` with the content encoder (`enc_p.*`). That is read
from the pickle of the file alone (no tensor is loaded; the pickle names every key), and cached
per (path, size, mtime), so listing hundreds of files costs one look each.
"""
import os
import threading
import zipfile

from common.atomic import is_temp_file

MARKERS = (b"model_g", b"enc_p.")
LEGACY_HEAD = 8 * 2 ** 20   # a pre-zip torch file: the pickle (with the keys) comes before the tensors
_cache = {}
_lock = threading.Lock()


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
    key = (path, st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        data = _pickle_bytes(path)
        found = all(marker in data for marker in MARKERS)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        found = False
    with _lock:
        _cache[key] = found
    return found
