"""Write files atomically: a hidden temp file `.<name><ext>.tmp-<pid>-<random>.part` (no loader's extension)
beside the target, then rename; leftovers of killed writers go at the next save of the same file."""
import contextlib
import glob
import os
import tempfile
import threading
import time

import numpy as np

TMP_MARK = ".tmp-"
TMP_SUFFIX = ".part"
_active = set()   # temp files this process is writing now
_active_lock = threading.Lock()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it to `path` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    remove_leftovers(folder, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}{TMP_MARK}{os.getpid()}-", suffix=TMP_SUFFIX, dir=folder)
    os.close(fd)
    with _active_lock:
        _active.add(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        with _active_lock:
            _active.discard(tmp)


def remove_leftovers(folder, name):
    """Delete temp files of earlier saves of `name` whose writer is gone (killed mid-save)."""
    base, ext = os.path.splitext(name)
    prefix = f".{name}{TMP_MARK}"
    for leftover in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*" + TMP_SUFFIX)):
        pid = os.path.basename(leftover)[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _writing(int(pid), leftover):
            with contextlib.suppress(OSError):
                os.remove(leftover)
    # the older naming, <base>.tmp-<random><ext> (no writer id): gone when an hour old
    for leftover in glob.glob(os.path.join(glob.escape(folder), glob.escape(base + TMP_MARK) + "*" + glob.escape(ext))):
        with contextlib.suppress(OSError):
            if os.path.getmtime(leftover) < time.time() - 3600:
                os.remove(leftover)


def _writing(pid, tmp):
    """True when process `pid` may still be writing `tmp`."""
    if pid == os.getpid():
        with _active_lock:
            return tmp in _active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def save_npy(path, array):
    """np.save, atomically. `path` should end in .npy."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(array))


def write_text(path, text, encoding="utf-8"):
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="") as f:
        f.write(text)


def is_temp_file(name):
    return TMP_MARK in os.path.basename(name)
