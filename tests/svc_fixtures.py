"""Shared by the conversion tests: smooth features (the tiny config and model are in conftest.py)."""
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny.yaml")
HOP = 320


def smooth_features(frames100, ppg_dim=16, seed=0):
    """Slowly varying PPG / units at 50 Hz for `frames100` model frames, and a speaker vector."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames100 // 2)[:, None] / 50.0
    ppg = np.sin(t * rng.uniform(0.5, 3, ppg_dim) + rng.uniform(0, 6, ppg_dim)).astype(np.float32)
    vec = np.cos(t * rng.uniform(0.5, 3, 256) + rng.uniform(0, 6, 256)).astype(np.float32)
    spk = rng.standard_normal(256).astype(np.float32)
    return ppg, vec, spk / np.linalg.norm(spk)
