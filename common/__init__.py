"""Plumbing shared by every stage: audio I/O, checkpoints, atomic files, dataset walking."""
import hashlib
import os
import sys

# OpenMP threads waiting at a barrier spin only briefly, then sleep. Spinning waiters take the core
# from a descheduled thread whenever another program runs. libgomp reads this once, when torch
# loads, and every package imports `common` first. Training step, base config, batch 2, 2 cores,
# idle / beside one busy process (bench/bench_train.py): libgomp's default spinning 3.55 / 24.7 s;
# OMP_WAIT_POLICY=PASSIVE 4.76 / 6.70 s; GOMP_SPINCOUNT=2000 4.03 / 7.28 s. A user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "2000")

# numba (librosa's pyin and resampling helpers, our compiled Snake activation) caches compiled code
# next to the package sources by default: a checkout or site-packages shared by two environments
# then feeds one numba the other's machine code, and librosa.pyin was seen to segfault in a fresh
# virtual environment until NUMBA_CACHE_DIR pointed at an empty folder. So the cache lives in
# <user cache>/svc-toolkit/numba/<python version>-<environment> (numba itself drops entries of
# another numba version). A user's own NUMBA_CACHE_DIR wins; numba reads it when first imported.
if "NUMBA_CACHE_DIR" not in os.environ:
    _base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    _where = hashlib.sha256(os.path.realpath(sys.prefix).encode()).hexdigest()[:12]
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(_base, "svc-toolkit", "numba",
                                                 f"py{sys.version_info[0]}{sys.version_info[1]}-{_where}")
