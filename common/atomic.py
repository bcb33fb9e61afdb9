"""Write files atomically: into a temp file beside the target, then rename over it.

A reader (or a resumed batch job) therefore sees either the old file, or the complete new
one, never a half-written file.
"""
import contextlib
import os
import tempfile

import numpy as np

TMP_MARK = ".tmp-"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it to `path` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f"{base}{TMP_MARK}", suffix=ext, dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_npy(path, array):
    """np.save, atomically. `path` should end in .npy."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))


def write_text(path, text, encoding="utf-8"):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=encoding, newline="") as f:
            f.write(text)


def is_temp_file(name):
    """True for leftovers of an interrupted atomic write."""
    return TMP_MARK in os.path.basename(name)
