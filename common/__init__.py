"""Plumbing shared by every stage: audio I/O, checkpoints, atomic files, dataset walking."""
import os

# OpenMP threads waiting at a barrier spin only briefly, then sleep. Spinning waiters take the core
# from a descheduled thread whenever another program runs. libgomp reads this once, when torch
# loads, and every package imports `common` first. Training step, base config, batch 2, 2 cores,
# idle / beside one busy process (bench/bench_train.py): libgomp's default spinning 3.55 / 24.7 s;
# OMP_WAIT_POLICY=PASSIVE 4.76 / 6.70 s; GOMP_SPINCOUNT=2000 4.03 / 7.28 s. A user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "2000")
