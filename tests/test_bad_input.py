"""Inputs that used to become 0-frame outputs: a WAV whose data ends after its header, and audio
shorter than one analysis frame. Each stage stops with one error naming the file, writing nothing."""
import os

import numpy as np
import pytest
import soundfile as sf

from common.audio import AudioError, load_audio
from prepare.resample import prepare_wave

TINY = os.path.join(os.path.dirname(__file__), "tiny.yaml")


@pytest.fixture
def bad_wavs(tmp_path):
    sf.write(tmp_path / "full.wav", np.zeros(16000, dtype=np.int16), 16000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes((tmp_path / "full.wav").read_bytes()[:60])   # header says 1 s, 8 samples follow
    short = tmp_path / "short.wav"
    sf.write(short, np.full(100, 1000, dtype=np.int16), 16000, subtype="PCM_16")  # 6 ms, complete
    return {"data ends early": truncated, "shorter than one analysis frame": short}


def test_load_audio_names_the_file_and_the_problem(bad_wavs):
    for problem, path in bad_wavs.items():
        with pytest.raises(AudioError, match=problem) as err:
            load_audio(path, 16000)
        assert str(path) in str(err.value)


def test_pitch_cli_fails_and_writes_no_csv(bad_wavs, tmp_path, capsys):
    from pitch.inference import main

    for problem, path in bad_wavs.items():
        out = tmp_path / f"{path.stem}.csv"
        with pytest.raises(SystemExit) as exit_info:
            main(["-w", str(path), "-p", str(out), "--method", "pm"])
        assert exit_info.value.code == 1
        assert problem in capsys.readouterr().err and not out.exists()


def test_feature_extraction_fails_with_the_reason(bad_wavs, tmp_path, capsys):
    from common.extractor import run_one_file

    def constant_features():
        return lambda wav: np.zeros((len(wav) // 320, 4), np.float32)

    for problem, path in bad_wavs.items():
        out = tmp_path / f"{path.stem}.npy"
        assert run_one_file(constant_features, str(path), str(out), "features", ndim=2) == 1
        printed = capsys.readouterr()
        assert problem in printed.out + printed.err and str(path) in printed.out + printed.err
        assert not out.exists()


def test_preprocessing_and_conversion_refuse_them(bad_wavs, tmp_path):
    from svc.conversion_run import convert_file
    from svc.settings import ConversionSettings

    for problem, path in bad_wavs.items():
        out = tmp_path / "out" / f"{path.stem}.wav"
        with pytest.raises(AudioError, match=problem):
            prepare_wave(str(path), [(str(out), 16000)])
        assert not out.exists()
        with pytest.raises(AudioError, match=problem):
            convert_file(TINY, str(tmp_path / "no_model.pth"), str(path), str(out),
                         ConversionSettings(spk=str(tmp_path / "no.spk.npy")))
        assert not out.exists()


@pytest.mark.parametrize("name", ["song.mp3", "take.wav", "voice.m4a"])
def test_unreadable_file_gives_our_error_without_library_warnings_first(tmp_path, name):
    import warnings

    path = tmp_path / name
    path.write_bytes(b"this is no audio at all " * 40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(AudioError, match="cannot read this audio file") as err:
            load_audio(path, 16000)
    assert str(path) in str(err.value)
    assert [str(w.message) for w in caught] == []  # before: librosa's UserWarning and FutureWarning
