import os
import sys

import numpy as np
import pytest
import torch

from common.audio import AudioError
from common.checkpoint import CheckpointError, load_checkpoint
from pitch.extractor import PitchExtractor
from pitch.crepe import package_dir
from pitch.fcpe import FcpeTracker, load_fcpe, locate_fcpe
from pitch.fcpe_net import FcpeNet, FcpeSizes
from tests.test_pitch import SR, harmonic, median_cents, truth_per_frame

TINY = FcpeSizes(mels=16, hidden=8, inner=12, kernel=5, layers=2, bins=40)


def _shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def tiny_file(path, sizes=TINY, seed=0):
    """A file in the layout of torchfcpe's fcpe_c_v001.pt with small random weights."""
    torch.manual_seed(seed)
    net = FcpeNet(sizes, f0_min=40.0, f0_max=1200.0)
    mel = {"sr": 16000, "num_mels": sizes.mels, "n_fft": 1024, "win_size": 1024, "hop_size": 160, "fmin": 0, "fmax": 8000}
    torch.save({"global_step": 1, "model": net.state_dict(), "config_dict": {"mel": mel, "model": {"type": "CFNaiveMelPE"}}}, path)
    return net


@pytest.fixture(scope="module")
def fcpe():
    if package_dir("torchfcpe") is None:
        pytest.skip("torchfcpe (which ships the FCPE weights) is not installed")
    return PitchExtractor(method="fcpe", device="cpu")


def test_layout_matches_the_wheels_file():
    if package_dir("torchfcpe") is None:
        pytest.skip("torchfcpe is not installed")
    sys.modules.pop("torchfcpe", None)
    path = locate_fcpe()
    assert path.endswith(os.path.join("torchfcpe", "assets", "fcpe_c_v001.pt"))
    state = load_checkpoint(path)["model"]
    sizes = FcpeSizes.from_state_dict(state)
    assert sizes == FcpeSizes()  # the defaults are the released model: 128 mels, 512 wide, 6 layers, 360 bins
    assert _shapes(FcpeNet(sizes).state_dict()) == _shapes(state)
    net, mel = load_fcpe()  # strict: no missing, unexpected or reshaped tensors
    assert mel["sample_rate"] == 16000 and mel["hop"] == 160 and mel["n_mels"] == 128
    assert torch.equal(net.cent_table, state["cent_table"])
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(10.8e6, rel=0.02)
    assert "torchfcpe" not in sys.modules


def test_tiny_file_of_the_same_layout_loads(tmp_path):
    made = tiny_file(tmp_path / "tiny.pt")
    net, _ = load_fcpe(tmp_path / "tiny.pt")
    assert net.sizes == TINY
    assert _shapes(net.state_dict()) == _shapes(made.state_dict())
    for key, value in made.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    # a bare state dict is accepted too
    torch.save(made.state_dict(), tmp_path / "bare.pt")
    assert load_fcpe(tmp_path / "bare.pt")[0].sizes == TINY


def test_windowed_body_equals_one_pass(tmp_path):
    tiny_file(tmp_path / "tiny.pt")
    wav = harmonic(np.full(SR, 300.0)) + 0.01 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)
    whole = FcpeTracker(weights=tmp_path / "tiny.pt", chunk_frames=10_000).activations(wav)
    windowed = FcpeTracker(weights=tmp_path / "tiny.pt", chunk_frames=7).activations(wav)
    assert whole.shape == (1 + SR // 160, TINY.bins)
    assert np.allclose(whole, windowed, atol=1e-5)


def test_bad_weight_files_say_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="pip install torchfcpe"):
        locate_fcpe(package="no_such_package_for_fcpe")
    with pytest.raises(CheckpointError, match="missing.pt"):
        FcpeTracker(weights=tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt.pt.*not a readable"):
        FcpeTracker(weights=tmp_path / "corrupt.pt")
    torch.save({"model": {"conv.weight": torch.zeros(3)}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt.*not an FCPE file"):
        FcpeTracker(weights=tmp_path / "foreign.pt")
    state = FcpeNet(TINY).state_dict()
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pt")
    with pytest.raises(CheckpointError, match="unexpected"):
        FcpeTracker(weights=tmp_path / "extra.pt")
    torch.save({"model": FcpeNet(TINY).state_dict(), "config_dict": {"mel": {"sr": 44100, "hop_size": 512}}},
               tmp_path / "other_rate.pt")
    with pytest.raises(CheckpointError, match="other_rate.pt.*16 kHz"):
        FcpeTracker(weights=tmp_path / "other_rate.pt")


def _errors(extractor, track, mode):
    f0 = extractor.extract(harmonic(track), mode)
    truth = truth_per_frame(track, len(f0))
    voiced = np.zeros(len(f0), bool)
    voiced[5:-5] = True
    return median_cents(f0, truth, voiced)


@pytest.mark.parametrize("mode", ["training", "conversion"])
def test_tones_glide_vibrato_within_10_cents(fcpe, mode):
    t = np.arange(SR) / SR
    tracks = [np.full(SR // 2, hz) for hz in (110.0, 220.0, 440.0, 880.0)]
    tracks += [200.0 * 2 ** t, 330.0 * 2 ** (0.5 / 12 * np.sin(2 * np.pi * 5.5 * t))]
    errors = [_errors(fcpe, track, mode) for track in tracks]
    assert max(errors) <= 10.0, errors


def _two_notes():
    a, b = np.full(SR // 2, 220.0), np.full(SR // 2, 330.0)
    return np.concatenate([harmonic(a), np.zeros(SR // 2, np.float32), harmonic(b)])


def test_training_zeroes_silence_conversion_bridges_it(fcpe):
    f0 = fcpe.training(_two_notes())
    assert np.all(f0[60:90] == 0) and np.all(f0[10:40] > 0) and np.all(f0[110:140] > 0)
    smooth = fcpe.conversion(_two_notes())
    assert smooth.min() > 0
    assert np.all((smooth[45:105] > 200) & (smooth[45:105] < 350))
    assert np.abs(np.diff(1200 * np.log2(smooth))).max() < 60


@pytest.mark.parametrize("samples", [0, 100, 160, 319, 592, 593, 4799, 16000 + 37])
def test_lengths_and_silence(fcpe, samples):
    for wav in (harmonic(np.full(samples, 200.0)), np.zeros(samples, np.float32)):
        for mode in ("training", "conversion"):
            f0 = fcpe.extract(wav, mode)
            assert f0.dtype == np.float32 and f0.shape == (samples // 160,)
    silent = np.zeros(samples, np.float32)
    assert np.all(fcpe.training(silent) == 0)
    assert np.all(fcpe.conversion(silent) == 200.0)  # nothing voiced: a neutral constant, as every method


@pytest.mark.parametrize("method", ["crepe", "fcpe"])
def test_bad_audio_gets_the_crepe_errors(tmp_path, method):
    if method == "fcpe" and package_dir("torchfcpe") is None:
        pytest.skip("torchfcpe is not installed")
    from pitch.extractor import extract_to_file

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF this is no audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    options = dict(method=method, model="tiny", device="cpu")
    with pytest.raises(AudioError, match="corrupt.wav: cannot read this audio file"):
        extract_to_file(corrupt, tmp_path / "out.csv", **options)
    with pytest.raises(AudioError, match="empty.wav: the file is empty"):
        extract_to_file(empty, tmp_path / "out.csv", **options)
    assert not (tmp_path / "out.csv").exists()
