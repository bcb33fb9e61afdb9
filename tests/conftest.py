import os
import sys

# Tests run tiny models, where OpenMP threads cost more than they give, and many tests start
# subprocesses or DDP workers: one thread per process avoids oversubscribing the cores
# (measured: a tiny discriminator step took 3.5 s with 2 contended threads, 0.16 s with 1).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
