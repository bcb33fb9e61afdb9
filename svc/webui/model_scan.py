"""Which files under the model folders are SVC models (a `.pt` may be a spectrogram, Whisper or
HuBERT weights): those whose pickle names `model_g` and `enc_p.` keys; no tensor is loaded."""
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
