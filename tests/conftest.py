import os
import signal
import sys

# Tests run tiny models, where OpenMP threads cost more than they give, and many tests start
# subprocesses or DDP workers: one thread per process avoids oversubscribing the cores
# (measured: a tiny discriminator step took 3.5 s with 2 contended threads, 0.16 s with 1).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

# Started as a shell's background job (`cmd &` without job control), a process inherits SIGINT
# ignored, and so would every script the tests start: the Ctrl-C tests need it delivered.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from common.config import load_config  # noqa: E402

TINY = os.path.join(ROOT, "tests", "tiny.yaml")
BASE = os.path.join(ROOT, "configs", "base.yaml")


def _frozen(path):
    hp = load_config(path)
    OmegaConf.set_readonly(hp, True)  # shared by every test: change a copy (OmegaConf.merge(hp, {...}))
    return hp


@pytest.fixture(scope="session")
def hp():
    """The tiny test config (tests/tiny.yaml): models small enough for CPU tests."""
    return _frozen(TINY)


@pytest.fixture(scope="session")
def base_hp():
    """configs/base.yaml: the public model sizes (so-vits-svc-5.0 checkpoints)."""
    return _frozen(BASE)


@pytest.fixture(scope="session")
def model_files(hp, tmp_path_factory):
    """(exported .pth, training .pt) of one tiny random model (seeded; the global RNG is left alone)."""
    import torch

    from common.checkpoint import save_checkpoint
    from svc.model_files import export_checkpoint
    from vits.models import SynthesizerTrn

    folder = tmp_path_factory.mktemp("model")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net_g = SynthesizerTrn.from_hparams(hp)
    training = folder / "tiny_1.pt"
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": {}, "optim_g": {}, "optim_d": {}, "step": 1,
                     "epoch": 1, "hp_str": ""}, training)
    export_checkpoint(hp, training, folder / "sovits5.0.pth")
    return folder / "sovits5.0.pth", training


@pytest.fixture()
def feature_files(tmp_path):
    """A 1.25 s song (in.wav, 16 kHz) with its in.ppg.npy / in.vec.npy, an in.csv pitch of 200 Hz
    and a singer.spk.npy: a conversion with every feature given."""
    import numpy as np
    import soundfile as sf

    from pitch.csv_io import write_f0_csv
    from tests.svc_fixtures import smooth_features

    samples16k = 20000
    t = np.arange(samples16k) / 16000
    sf.write(tmp_path / "in.wav", (0.4 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
    ppg, vec, spk = smooth_features(2 * (samples16k // 320))
    for name, array in (("in.ppg.npy", ppg), ("in.vec.npy", vec), ("singer.spk.npy", spk)):
        np.save(tmp_path / name, array)
    write_f0_csv(tmp_path / "in.csv", np.full(125, 200.0))
    return tmp_path
