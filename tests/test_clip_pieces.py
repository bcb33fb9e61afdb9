import numpy as np
import pytest
import soundfile as sf

from common.audio import load_audio
from common.loudness import integrated_loudness
from prepare.clip_pieces import ClipOptions, ClipProblem, write_clip


def phrases(seconds, sr, seed=0):
    """3 s phrases at changing levels, 0.5 s pauses between them."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(map(len, out)) < seconds * sr:
        t = np.arange(3 * sr) / sr
        out.append(rng.uniform(0.05, 0.8) * np.sin(2 * np.pi * rng.uniform(150, 400) * t) * np.sin(np.pi * t / 3))
        out.append(np.zeros(sr // 2))
    return np.concatenate(out)[:int(seconds * sr)].astype(np.float32)


def test_long_recording_becomes_aligned_levelled_pieces(tmp_path):
    src = tmp_path / "song.flac"
    sf.write(src, phrases(40, 44100), 44100)
    out16, out32 = tmp_path / "16k" / "song.wav", tmp_path / "32k" / "song.wav"
    note = write_clip(str(src), [(str(out16), 16000), (str(out32), 32000)], ClipOptions(loudnorm=-20.0))
    assert note == "" and not out16.exists()
    pieces16 = sorted((tmp_path / "16k").glob("song_*.wav"))
    pieces32 = sorted((tmp_path / "32k").glob("song_*.wav"))
    assert [p.name for p in pieces16] == [p.name for p in pieces32] == [f"song_{i:03d}.wav" for i in range(len(pieces16))]
    assert len(pieces16) >= 3
    for p16, p32 in zip(pieces16, pieces32):
        a, b = load_audio(p16, 16000), load_audio(p32, 32000)
        assert 2.0 <= len(a) / 16000 <= 15.0 and abs(len(b) - 2 * len(a)) <= 2
        assert abs(integrated_loudness(b, 32000) + 20.0) < 0.5 and np.abs(b).max() < 1.0
    # a second run finds the pieces and writes nothing
    assert write_clip(str(src), [(str(out16), 16000), (str(out32), 32000)], ClipOptions(loudnorm=-20.0)) is None


def test_no_slice_keeps_the_recording_whole_with_a_warning(tmp_path):
    src = tmp_path / "take.wav"
    sf.write(src, phrases(32, 16000), 16000)
    out = tmp_path / "out" / "take.wav"
    note = write_clip(str(src), [(str(out), 16000)], ClipOptions(slice_seconds=None))
    assert "long clip" in note and abs(np.abs(load_audio(out, 16000)).max() - 0.6) < 1e-3
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 20, np.float32), 16000)
    with pytest.raises(ClipProblem, match="silent"):
        write_clip(str(silent), [(str(tmp_path / "out" / "silent.wav"), 16000)], ClipOptions())


def test_step_one_clis_slice_by_default_and_take_the_flags(tmp_path, capsys):
    import svc_preprocessing
    from prepare.preprocess_a import main

    raw = tmp_path / "raw" / "alto"
    raw.mkdir(parents=True)
    sf.write(raw / "long take.wav", phrases(35, 22050, seed=3), 22050)
    sf.write(raw / "short.wav", phrases(5, 22050, seed=4), 22050)
    out = tmp_path / "w16"
    assert main(["-w", str(tmp_path / "raw"), "-o", str(out), "-s", "16000", "--loudnorm", "-18"]) == 0
    names = sorted(p.name for p in (out / "alto").glob("*.wav"))
    assert "short.wav" in names and "long take.wav" not in names and "long take_000.wav" in names
    for name in names:
        assert abs(integrated_loudness(load_audio(out / "alto" / name, 16000), 16000) + 18) < 0.5
    whole = tmp_path / "whole"
    assert main(["-w", str(tmp_path / "raw"), "-o", str(whole), "-s", "16000", "--no-slice"]) == 0
    assert sorted(p.name for p in (whole / "alto").glob("*.wav")) == ["long take.wav", "short.wav"]
    assert main(["-w", str(tmp_path / "raw"), "-o", str(whole), "-s", "16000", "--slice-seconds", "45"]) == 1
    assert "30" in capsys.readouterr().err
    data = tmp_path / "data_svc"
    svc_preprocessing.main(["-w", str(tmp_path / "raw"), "-o", str(data), "--steps", "1", "--slice-seconds", "10"])
    pieces = sorted((data / "waves-32k" / "alto").glob("long take_*.wav"))
    assert len(pieces) >= 4 and all(sf.info(p).duration <= 10.0 for p in pieces)
