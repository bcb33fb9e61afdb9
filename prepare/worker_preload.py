"""Imported once by the fork server before it forks the workers: the heavy imports (torch, librosa's
resampler with numba and scipy) happen once per run, not per worker. Nothing here touches CUDA or threads."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401

from common.audio import EXTRACT_RATE, resample  # noqa: E402

resample(np.zeros(441, dtype=np.float32), 44100, EXTRACT_RATE)  # first call imports librosa.core.audio
