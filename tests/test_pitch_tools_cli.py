"""FCPE, pitch repair and --auto-shift through the command lines (pitch/inference.py, svc_inference.py)."""
import numpy as np
import pytest
import soundfile as sf

from pitch.crepe import package_dir
from pitch.singer_range import write_range
from tests.svc_fixtures import TINY, smooth_features  # noqa: F401 (fixtures)
from tests.test_pitch import SR, harmonic

pytestmark = pytest.mark.skipif(package_dir("torchfcpe") is None, reason="torchfcpe (FCPE weights) is not installed")


def song_with_octave_error(path, hz=200.0, seconds=1.25):
    """A steady note with 80 ms sung an octave up in the middle: what a tracker's octave error looks like."""
    track = np.full(int(SR * seconds), hz)
    middle = len(track) // 2
    track[middle - 640:middle + 640] *= 2
    sf.write(path, harmonic(track), SR)
    return path


@pytest.mark.slow  # a subprocess or a server: not in the quick loop
def test_pitch_cli_prints_and_plots_the_repair(tmp_path, capsys):
    from pitch.csv_io import read_f0_csv
    from pitch.inference import main

    wav = song_with_octave_error(tmp_path / "song.wav")
    common = ["-w", str(wav), "--method", "fcpe", "--device", "cpu"]
    main(common + ["-p", str(tmp_path / "song.csv"), "--plot", str(tmp_path / "song.png")])
    out = capsys.readouterr().out
    assert "1 span(s) repaired" in out and "octave error (+1)" in out
    f0 = read_f0_csv(tmp_path / "song.csv")
    assert np.all(np.abs(1200 * np.log2(f0[5:-5] / 200.0)) < 50)  # the jump is gone, the CSV keeps its columns
    assert (tmp_path / "song.png").read_bytes()[:4] == b"\x89PNG"
    main(common + ["-p", str(tmp_path / "raw.csv"), "--no-repair"])
    assert "repair" not in capsys.readouterr().out
    raw = read_f0_csv(tmp_path / "raw.csv")
    assert np.abs(1200 * np.log2(raw[61:65] / 400.0)).max() < 50  # kept as sung (frames 59-66 are up)
    main(common + ["-p", str(tmp_path / "train.csv"), "--mode", "training"])  # off in training mode
    assert "repair" not in capsys.readouterr().out


@pytest.fixture
def conversion_files(tmp_path):
    song_with_octave_error(tmp_path / "in.wav")
    ppg, vec, spk = smooth_features(2 * (20000 // 320))
    for name, array in (("in.ppg.npy", ppg), ("in.vec.npy", vec), ("alto.spk.npy", spk)):
        np.save(tmp_path / name, array)
    return tmp_path


def test_auto_shift_repair_and_shift_precedence(model_files, conversion_files, capsys, monkeypatch):
    import svc_inference
    from vits.models import SynthesizerInfer

    fed = []
    original = SynthesizerInfer.pitch2source
    monkeypatch.setattr(SynthesizerInfer, "pitch2source",
                        lambda self, f0, seed=None: fed.append(f0[0].cpu().numpy().copy()) or original(self, f0, seed))
    d = conversion_files
    base = ["--config", TINY, "--model", str(model_files[0]), "--spk", str(d / "alto.spk.npy"), "--wave",
            str(d / "in.wav"), "--ppg", str(d / "in.ppg.npy"), "--vec", str(d / "in.vec.npy"), "--out",
            str(d / "out.wav"), "--device", "cpu", "--pitch-method", "fcpe"]

    with pytest.raises(SystemExit) as stop:  # no range written yet: one clear error
        svc_inference.main(base + ["--auto-shift"])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and "alto.f0.json" in err and "preprocessing" in err

    write_range(d / "alto.f0.json", {"low_hz": 280.0, "high_hz": 350.0, "median_hz": 310.0})
    assert svc_inference.main(base + ["--auto-shift"]) == 0
    err = capsys.readouterr().err
    assert "auto-shift: +6 semitones" in err  # 200 Hz * 2**(6/12) = 283 Hz, +5 would give 267 Hz
    assert "octave error (+1)" in err
    assert np.median(fed[-1]) == pytest.approx(200 * 2 ** 0.5, rel=0.01)
    assert np.abs(1200 * np.log2(fed[-1][10:-10] / (200 * 2 ** 0.5))).max() < 50  # repaired, then shifted

    assert svc_inference.main(base + ["--auto-shift", "--shift", "0", "--no-repair"]) == 0
    err = capsys.readouterr().err
    assert "--shift 0 given: it wins over --auto-shift" in err and "pitch repair" not in err  # (the folder name holds "repair")
    assert np.median(fed[-1]) == pytest.approx(200, rel=0.01)
    assert fed[-1].max() > 380  # the octave jump reaches the model when repair is off
