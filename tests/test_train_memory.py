"""The trainer's memory estimate and batch-size advice (vits/train_memory.py)."""
from types import SimpleNamespace

from vits.train_memory import GB, estimate_bytes, largest_batch, memory_advice


def test_estimate_grows_with_batch_clip_length_and_workers():
    base = estimate_bytes(50e6, 2, 4.0, 0)
    assert estimate_bytes(50e6, 8, 4.0, 0) > base and estimate_bytes(50e6, 2, 8.0, 0) > base
    assert estimate_bytes(50e6, 2, 4.0, 2) > base and estimate_bytes(80e6, 2, 4.0, 0) > base


def test_advice_suggests_a_batch_that_fits():
    t = SimpleNamespace(batch_size=8, max_seconds=4.0, num_workers=2)
    need, warning = memory_advice(50e6, t, available=1000 * GB)
    assert warning is None and need == estimate_bytes(50e6, 8, 4.0, 2)
    small = estimate_bytes(50e6, 3, 4.0, 2) / 0.9 + 1  # room for batch 3, not 4
    need, warning = memory_advice(50e6, t, available=small)
    assert largest_batch(50e6, 4.0, 2, 0.9 * small) == 3
    assert "set train.batch_size to 3" in warning.lower() and f"{need / GB:.1f} GB" in warning
    _, warning = memory_advice(50e6, t, available=0.1 * GB)  # not even batch 1
    assert "lower train.num_workers" in warning.lower()
    assert memory_advice(50e6, t, available=None)[1] is None  # unknown: no advice


def test_peak_rss_is_measured():
    """In a fresh process (this one's peak may be anything): 200 MB touched raise the peak by that."""
    import subprocess
    import sys

    code = ("import numpy as np; from vits.train_memory import peak_rss_bytes; before = peak_rss_bytes(); "
            "block = np.ones(25_000_000); print(before, peak_rss_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__file__.rsplit("/tests/", 1)[0]).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert 10e6 < before and after - before > 150e6
