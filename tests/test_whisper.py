import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from common.batch import BatchReport, extract_files
from common.checkpoint import CheckpointError
from common.extractor import load_wav16k
from common.paths import REPO_ROOT
from tests.tiny_whisper import make_checkpoint
from whisper.inference import WhisperPPG
from whisper.log_mel import log_mel
from whisper.model import WhisperEncoder, ppg_block_count
from whisper.ppg import WHISPER_URL
from tests.compat_manifest import load_manifest

SR = 16000


def noise_wav(seconds_or_samples, seed=0):
    n = seconds_or_samples if isinstance(seconds_or_samples, int) else int(seconds_or_samples * SR)
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(make_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny.pt"))


@pytest.fixture(scope="module")
def ppg(ckpt):
    return WhisperPPG(ckpt, device="cpu", noise=False)


def test_tiny_checkpoint_keeps_three_quarters_of_blocks(ppg):
    assert ppg.dim == 16
    assert len(ppg.encoder.blocks) == 3
    assert ppg_block_count(32) == 24


@pytest.mark.parametrize("n_samples", [4800, 4801, 16000, 15 * SR + 5000, 70 * SR + 123])
def test_frame_count_is_samples_over_320(ppg, n_samples):
    out = ppg(noise_wav(n_samples))
    assert out.dtype == np.float32
    assert out.shape == (n_samples // 320, 16)
    assert np.isfinite(out).all()


def test_short_input_gives_no_frames(ppg):
    assert ppg(noise_wav(319)).shape == (0, 16)


def test_chunks_are_independent_15s_pieces(ppg):
    wav = noise_wav(20.0, seed=3)
    whole = ppg(wav)
    assert np.allclose(whole[:750], ppg(wav[:15 * SR]), atol=1e-5)
    assert np.allclose(whole[750:], ppg(wav[15 * SR:]), atol=1e-5)


def test_noise_flag(ckpt, ppg):
    wav = noise_wav(1.0)
    assert np.array_equal(ppg(wav), ppg(wav))
    noisy = WhisperPPG(ckpt, device="cpu", noise=True)
    a, b = noisy(wav), noisy(wav)
    assert a.shape == (50, 16)
    assert not np.allclose(a, ppg(wav)) and not np.allclose(a, b)


def test_log_mel_matches_librosa_reference():
    librosa = pytest.importorskip("librosa")
    wav = noise_wav(0.5)
    spec = np.abs(librosa.stft(wav, n_fft=400, hop_length=160, window="hann", center=True, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=SR, n_fft=400, n_mels=80) @ (spec[:, :-1] ** 2)
    ref = np.log10(np.maximum(mel, 1e-10))
    ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    ours = log_mel(torch.from_numpy(wav), 80).numpy()
    assert ours.shape == (80, 50)
    assert np.allclose(ours, ref, atol=1e-4)


def test_large_v2_layout_matches_module():
    compat = load_manifest("whisper_checkpoint")
    dims = compat["large_v2_dims"]
    keep = ppg_block_count(dims["n_audio_layer"])
    with torch.device("meta"):
        enc = WhisperEncoder(dims["n_mels"], dims["n_audio_ctx"], dims["n_audio_state"], dims["n_audio_head"], keep)
    ours = {"encoder." + k: list(v.shape) for k, v in enc.state_dict().items()}
    wanted = {k: s for k, s in compat["encoder_state_dict_large_v2"]
              if not k.startswith("encoder.blocks.") or int(k.split(".")[2]) < keep}
    assert keep == 24 and ours == wanted


def test_missing_checkpoint_names_file_folder_and_source(tmp_path):
    path = tmp_path / "nowhere" / "large-v2.pt"
    with pytest.raises(CheckpointError) as err:
        WhisperPPG(str(path), device="cpu")
    msg = str(err.value)
    assert str(path) in msg and str(path.parent) in msg and WHISPER_URL in msg and "svc_download.py" in msg


def test_corrupt_and_foreign_files(tmp_path, ckpt):
    bad = tmp_path / "large-v2.pt"
    bad.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="large-v2.pt"):
        WhisperPPG(str(bad), device="cpu")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt"):
        WhisperPPG(str(foreign), device="cpu")
    edited = torch.load(ckpt, weights_only=True)
    edited["dims"]["n_audio_state"] = 32
    torch.save(edited, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="n_audio_state"):
        WhisperPPG(str(tmp_path / "edited.pt"), device="cpu")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_extract_files_writes_and_skips(tmp_path, ppg):
    good, short, broken = tmp_path / "good.wav", tmp_path / "short.wav", tmp_path / "broken.wav"
    sf.write(good, noise_wav(11025), 22050)  # 0.5 s, resampled to 16 kHz on load
    sf.write(short, noise_wav(100), SR)
    broken.write_bytes(b"RIFF garbage")
    outs = [tmp_path / "out" / f"{p.stem}.ppg.npy" for p in (good, short, broken)]

    def extract(srcs, dsts):
        return extract_files(lambda: ppg, zip(srcs, dsts), BatchReport("ppg"), load_wav16k, ndim=2, progress=False)

    report = extract([good, short, broken], outs)
    assert report.done == 1 and len(report.failed) == 2
    assert np.load(outs[0]).shape == (25, 16)
    assert not outs[1].exists() and not outs[2].exists()
    assert extract([good], outs[:1]).skipped_existing == 1


@pytest.mark.slow
def test_cli_writes_ppg(tmp_path, ckpt):
    wav, out = tmp_path / "in put.wav", tmp_path / "o" / "x.ppg.npy"
    sf.write(wav, noise_wav(1.0), SR)
    cmd = [sys.executable, os.path.join(REPO_ROOT, "whisper", "inference.py"), "-w", str(wav), "-p", str(out),
           "--device", "cpu", "--no-noise"]
    run = subprocess.run(cmd + ["--checkpoint", ckpt], capture_output=True, text=True, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert np.load(out).shape == (50, 16)


@pytest.mark.slow
def test_cli_missing_checkpoint_exits_with_message(tmp_path, capsys):
    from whisper.inference import main

    with pytest.raises(SystemExit) as err:
        main(["-w", str(tmp_path / "a.wav"), "-p", str(tmp_path / "a.npy"), "--checkpoint", str(tmp_path / "none.pt")])
    message = capsys.readouterr().err
    assert err.value.code == 1 and "none.pt" in message and "svc_download.py" in message
