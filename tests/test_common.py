import os

import numpy as np
import pytest
import soundfile as sf
import torch

from common.atomic import atomic_path, is_temp_file, save_npy
from common.audio import AudioError, load_audio, save_audio
from common.checkpoint import (CheckpointError, load_checkpoint, load_state_dict_checked, save_checkpoint,
                               to_legacy_weight_norm)
from common.dataset import iter_dataset


def tone(sr, seconds=0.5, f=220.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_load_audio_formats_to_mono_float(tmp_path, subtype):
    stereo = np.stack([tone(44100), tone(44100)], axis=1)
    path = tmp_path / f"clip {subtype} é.wav"
    sf.write(path, stereo, 44100, subtype=subtype)
    wav = load_audio(path, 16000)
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert abs(len(wav) - 8000) <= 1
    assert 0.45 < np.abs(wav).max() < 0.55


def test_load_audio_flac_and_ogg(tmp_path):
    for ext in ("flac", "ogg"):
        path = tmp_path / f"x.{ext}"
        sf.write(path, tone(32000), 32000)
        assert abs(len(load_audio(path, 32000)) - 16000) <= 1


def test_load_audio_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 10)
    for p in (empty, junk, tmp_path / "missing.wav"):
        with pytest.raises(AudioError, match=p.name):
            load_audio(p, 16000)


def test_save_audio_is_16bit_and_atomic(tmp_path):
    path = tmp_path / "out.wav"
    save_audio(path, np.array([0.0, 0.5, -2.0, 1.0], dtype=np.float32), 32000)
    info = sf.info(path)
    assert info.subtype == "PCM_16" and info.samplerate == 32000
    data, _ = sf.read(path, dtype="int16")
    assert data.tolist() == [0, 16384, -32767, 32767]
    assert not [f for f in os.listdir(tmp_path) if is_temp_file(f)]


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "a.npy"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "wb").write(b"half")
            raise RuntimeError("killed")
    assert os.listdir(tmp_path) == []
    save_npy(target, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask


def test_checkpoint_roundtrip_and_errors(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"model_g": {"w": torch.ones(2)}, "step": 3, "hp_str": "a: 1"}, path)
    ck = load_checkpoint(path)
    assert ck["step"] == 3 and torch.equal(ck["model_g"]["w"], torch.ones(2))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_checkpoint_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_legacy_and_parametrized_weight_norm_keys_load():
    legacy = torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 3, 3))
    modern = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(2, 3, 3))
    renamed = to_legacy_weight_norm(modern.state_dict())
    assert set(renamed) == set(legacy.state_dict())
    load_state_dict_checked(legacy, modern.state_dict(), "m.pt")
    x = torch.randn(1, 2, 8)
    assert torch.allclose(legacy(x), modern(x), atol=1e-6)
    with pytest.raises(CheckpointError, match="missing"):
        load_state_dict_checked(legacy, {"bias": torch.zeros(3)}, "m.pt")


def test_iter_dataset(tmp_path):
    (tmp_path / "spk a").mkdir()
    (tmp_path / "spk b").mkdir()
    sf.write(tmp_path / "spk a" / "x 1.wav", tone(16000), 16000)
    sf.write(tmp_path / "spk b" / "é.flac", tone(16000), 16000)
    (tmp_path / "spk b" / "notes.txt").write_text("hi")
    (tmp_path / "loose.wav").write_bytes(b"")
    (tmp_path / "spk b" / "y.tmp-abc.wav").write_bytes(b"")
    items = iter_dataset(tmp_path)
    assert [(s, n) for s, n, _ in items] == [("spk a", "x 1"), ("spk b", "é")]


def test_runtime_tuning_sets_threads_and_keeps_freed_memory():
    import platform

    from common.runtime import keep_freed_memory, tune_cpu_runtime

    before = torch.get_num_threads()
    try:
        assert tune_cpu_runtime(1) == 1
    finally:
        torch.set_num_threads(before)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert keep_freed_memory()


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [
    (16000, 400, 80, 0.0, None),      # Whisper
    (16000, 1024, 128, 0.0, 8000.0),  # FCPE
    (16000, 512, 40, 0.0, None),      # speaker encoder
    (32000, 1024, 100, 0.0, None),    # training spectrogram
    (44100, 2048, 128, 40.0, 16000.0),
])
def test_mel_filters_equal_librosas(sr, n_fft, n_mels, fmin, fmax):
    import librosa

    from common.mel_filters import mel_filters

    ours = mel_filters(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-7)


def test_numba_cache_lives_in_a_user_cache_folder_per_environment(tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    show = "import common, os; from numba.core import config; print(os.environ['NUMBA_CACHE_DIR']); print(config.CACHE_DIR)"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = subprocess.run([sys.executable, "-c", show], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120).stdout.split()
    assert len(out) == 2 and out[0] == out[1], out  # numba, imported after common, uses it
    assert out[0].startswith(os.path.join(str(tmp_path / "cache"), "svc-toolkit", "numba", "py"))
    assert not out[0].startswith(root)
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    mine = subprocess.run([sys.executable, "-c", show], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120).stdout.split()
    assert mine == [str(tmp_path / "mine")] * 2  # a user's own setting wins
