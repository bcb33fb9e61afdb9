import concurrent.futures
import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from common.audio import AudioError
from common.batch import BatchReport, extract_files
from common.checkpoint import CheckpointError
from speaker import audio as front
from speaker.encoder import load_speaker_model
from speaker.inference import SpeakerEncoder
from speaker.lstm import window_starts
from tests.tiny_speaker import make_checkpoint, state_dict_shapes
from tests.compat_manifest import load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def voice(seconds, f0=180.0, seed=0):
    """A harmonic tone with a little noise: something with a spectrum, like a voiced vowel."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    wav = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6))
    return (wav + 0.01 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return str(make_checkpoint(tmp_path_factory.mktemp("spk") / "best_model.pth.tar"))


@pytest.fixture(scope="module")
def encoder(tiny_ckpt):
    return SpeakerEncoder(tiny_ckpt, device="cpu")


@pytest.mark.parametrize("seconds", [0.3, 3.0, 70.0])
def test_dvector_shape_finite_and_length(encoder, seconds):
    vec = encoder(voice(seconds))
    assert vec.shape == (256,) and vec.dtype == np.float32
    assert np.all(np.isfinite(vec))
    norm = np.linalg.norm(vec)
    # mean of 10 unit window vectors: exactly 1 when all windows are the whole (short) utterance
    if seconds < 3.9:
        assert norm == pytest.approx(1.0, abs=1e-5)
    else:
        assert 0.0 < norm <= 1.0 + 1e-5


def test_each_window_embedding_is_unit_length(encoder):
    mel = torch.from_numpy(front.melspectrogram(voice(2.0))[None])  # [1, T, 80]
    out = encoder.model(mel.repeat(3, 1, 1))
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


def test_same_audio_gives_same_vector(tiny_ckpt, encoder):
    wav = voice(5.0, seed=3)
    first = encoder(wav)
    assert np.array_equal(first, encoder(wav.copy()))
    assert np.allclose(first, SpeakerEncoder(tiny_ckpt, device="cpu")(wav), atol=1e-6)
    assert not np.allclose(first, encoder(voice(5.0, f0=300.0, seed=4)), atol=1e-3)


def test_batched_embedding_matches_single(encoder):
    mels = [front.melspectrogram(voice(s, seed=i)) for i, s in enumerate([0.5, 6.0, 1.0, 8.0])]
    batched = encoder.embed_mels(mels)
    for mel, vec in zip(mels, batched):
        assert np.allclose(vec, encoder.embed_mel(mel), atol=1e-5)


def test_window_placement_like_compute_embedding():
    starts, length = window_starts(1000)
    assert length == 250 and starts[0] == 0 and starts[-1] == 750 and len(starts) == 10
    starts, length = window_starts(100)
    assert length == 100 and np.all(starts == 0)


def test_front_end_matches_librosa_melspectrogram():
    """Our pipeline vs librosa.feature.melspectrogram (power 1) + the Coqui dB/normalisation formula."""
    import librosa

    wav = voice(1.5, seed=1)
    ours = front.mel_frames(front.peak_normalise(wav))
    y = front.peak_normalise(wav).astype(np.float64)
    y = np.append(y[:1], y[1:] - 0.98 * y[:-1])
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=256, win_length=1024, window="hann",
                                         center=True, pad_mode="reflect", power=1.0, n_mels=80, fmin=0, fmax=8000)
    db = 20 * np.log10(np.maximum(1e-5, mel))
    expected = np.clip(8.0 * (db - 20 + 100) / 100 - 4.0, -4.0, 4.0).T
    assert ours.shape == expected.shape == (1 + len(wav) // 256, 80)
    assert np.allclose(ours, expected, atol=1e-4)


def test_front_end_trims_silence_and_normalises_peak():
    tone = voice(1.0)
    padded = np.concatenate([np.zeros(SR, np.float32), tone, np.zeros(SR, np.float32)])
    trimmed = front.trim_silence(padded)
    assert abs(len(trimmed) - len(tone)) <= 2 * 1024
    assert np.max(np.abs(front.peak_normalise(tone * 0.1))) == pytest.approx(0.95)
    mel = front.melspectrogram(padded)
    assert mel.dtype == np.float32 and mel.shape[1] == 80
    assert mel.shape[0] <= 1 + (len(tone) + 2 * 1024) // 256
    assert mel.min() >= -4.0 and mel.max() <= 4.0


@pytest.mark.parametrize("wav, words", [
    (np.zeros(8000, np.float32), "silent"),
    (np.zeros(100, np.float32), "too short"),
    (np.full(4000, np.nan, np.float32), "NaN"),
])
def test_unusable_audio_is_a_clear_error(encoder, wav, words):
    with pytest.raises(AudioError, match=words):
        encoder(wav)


def test_real_layout_from_compat_json_loads(tmp_path):
    compat = load_manifest("speaker_lstm_checkpoint")
    p = compat["model_params"]
    shapes = [(name, tuple(shape)) for name, shape in compat["state_dict"]]
    assert shapes == state_dict_shapes(p["input_dim"], p["proj_dim"], p["lstm_dim"], p["num_lstm_layers"])
    path = tmp_path / "best_model.pth.tar"
    torch.save({"model": {name: torch.zeros(shape) for name, shape in shapes}, "step": 1, "date": "x"}, path)
    model = load_speaker_model(path)  # strict: raises on any missing/unexpected/mis-shaped key
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == shapes
    assert (model.input_dim, model.proj_dim, len(model.layers)) == (80, 256, 3)
    assert model.layers[0].lstm.hidden_size == 768
    assert compat["audio_frontend"]["hop_length"] == front.HOP_LENGTH
    assert compat["audio_frontend"]["num_mels"] == front.N_MELS


def test_missing_weights_name_file_folder_and_source(tmp_path):
    missing = tmp_path / "speaker_pretrain" / "best_model.pth.tar"
    with pytest.raises(CheckpointError) as err:
        SpeakerEncoder(missing, device="cpu")
    text = str(err.value)
    assert str(missing) in text and str(missing.parent) in text
    assert "svc_download.py" in text and "drive.google.com" in text


def test_corrupt_or_foreign_weights_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(os.urandom(2048))
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_speaker_model(junk)
    other = tmp_path / "other.pth"
    torch.save({"model_g": {"w": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match="no 'model' state dict"):
        load_speaker_model(other)
    wrong_mels = tmp_path / "wrong.pth.tar"
    torch.save({"model": dict((n, torch.zeros(s)) for n, s in state_dict_shapes(40, 256, 8, 2))}, wrong_mels)
    with pytest.raises(CheckpointError, match="40 mel bands"):
        load_speaker_model(wrong_mels)


@pytest.mark.slow
def test_extract_files_skips_bad_and_existing(encoder, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, voice(1.0), SR)
    resampled = tmp_path / "at44k.wav"
    sf.write(resampled, voice(1.0, seed=5)[: int(0.9 * SR)].repeat(2)[: int(0.9 * 44100)], 44100)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    srcs = [good, resampled, bad]
    outs = [tmp_path / "out" / f"{p.stem}.spk.npy" for p in srcs]

    def extract(pool=None):
        return extract_files(lambda: encoder.embed_mel, zip(srcs, outs), BatchReport("speaker"), front.load_mel,
                             ndim=1, pool=pool, progress=False)

    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        report = extract(pool)  # front end in a worker process
    assert report.done == 2 and len(report.failed) == 1 and report.failed[0][0] == str(bad)
    vec = np.load(outs[0])
    assert vec.shape == (256,) and vec.dtype == np.float32
    assert np.allclose(vec, encoder(voice(1.0)), atol=1e-5)
    again = extract()
    assert again.skipped_existing == 2 and again.done == 0 and len(again.failed) == 1


@pytest.mark.slow
def test_cli_writes_vector(tiny_ckpt, tmp_path):
    wav = tmp_path / "in.wav"
    sf.write(wav, voice(1.0), SR)
    out = tmp_path / "in.spk.npy"
    script = os.path.join(ROOT, "speaker", "inference.py")
    done = subprocess.run([sys.executable, script, "-w", str(wav), "-s", str(out), "--checkpoint", tiny_ckpt,
                           "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert np.load(out).shape == (256,)


@pytest.mark.slow
def test_cli_missing_weights_exits_with_the_fix(tmp_path, capsys):
    from speaker.inference import main

    wav = tmp_path / "in.wav"
    sf.write(wav, voice(0.5), SR)
    missing = tmp_path / "speaker_pretrain" / "best_model.pth.tar"
    with pytest.raises(SystemExit) as stop:
        main(["-w", str(wav), "-s", str(tmp_path / "o.spk.npy"), "--checkpoint", str(missing)])
    message = capsys.readouterr().err
    assert stop.value.code == 1 and message.startswith("error:") and str(missing) in message and "svc_download.py" in message
