"""Shared by the conversion tests: the tiny config, one tiny random model, smooth features."""
import os

import numpy as np
import pytest
import torch

from common.checkpoint import save_checkpoint
from common.config import load_config
from svc.model_files import export_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny.yaml")
HOP = 320


@pytest.fixture(scope="module")
def hp():
    return load_config(TINY)


@pytest.fixture(scope="module")
def model_files(hp, tmp_path_factory):
    """(exported .pth, training .pt) of one tiny random model."""
    from vits.models import SynthesizerTrn

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    net_g = SynthesizerTrn.from_hparams(hp)
    training = folder / "tiny_1.pt"
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": {}, "optim_g": {}, "optim_d": {}, "step": 1,
                     "epoch": 1, "hp_str": ""}, training)
    export_checkpoint(hp, training, folder / "sovits5.0.pth")
    return folder / "sovits5.0.pth", training


def smooth_features(frames100, ppg_dim=16, seed=0):
    """Slowly varying PPG / units at 50 Hz for `frames100` model frames, and a speaker vector."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames100 // 2)[:, None] / 50.0
    ppg = np.sin(t * rng.uniform(0.5, 3, ppg_dim) + rng.uniform(0, 6, ppg_dim)).astype(np.float32)
    vec = np.cos(t * rng.uniform(0.5, 3, 256) + rng.uniform(0, 6, 256)).astype(np.float32)
    spk = rng.standard_normal(256).astype(np.float32)
    return ppg, vec, spk / np.linalg.norm(spk)
