"""CUDA paths: training in each precision, conversion and extraction on the GPU against the CPU,
DDP with two processes on one GPU. Tests marked `cuda` skip without a CUDA device
(`python -m pytest -m cuda tests` on a GPU machine); the unmarked ones check, on any machine, the
device and backend choices those paths rely on."""
import copy
import os
import socket

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.checkpoint import load_checkpoint
from svc.convert import Features, SvcConverter
from svc.settings import ConversionSettings
from tests.svc_fixtures import smooth_features
from tests.train_synthetic import FAST, TINY, make_synthetic_dataset, one_clip_config, record_mel_losses
from vits.train import TrainOptions, train
from vits.train_utils import process_group_backend, worker_device
from vits_decoder.fast.tiled import TiledGenerator

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
# fp32 GPU vs CPU: the same model and inputs differ by float reordering only (cuDNN, TF32 off)
FP32_TOLERANCE = 1e-3
# bf16/fp16 autocast: relative RMS error of the waveform against fp32
HALF_RMS_TOLERANCE = {"bf16": 0.1, "fp16": 0.02}


# ---- device choices, checked on any machine -----------------------------------------------------

def test_spawned_ranks_wrap_round_the_gpus():
    assert worker_device("cuda", 0, gpu_count=1) == torch.device("cuda", 0)
    assert worker_device("cuda", 1, gpu_count=1) == torch.device("cuda", 0)
    assert worker_device("cuda", 3, gpu_count=2) == torch.device("cuda", 1)
    assert worker_device("cuda:1", 0, gpu_count=2) == torch.device("cuda", 1)
    assert worker_device("cpu", 1) == torch.device("cpu")


def test_ranks_sharing_a_gpu_use_gloo():
    gpu = torch.device("cuda", 0)
    assert process_group_backend(gpu, "nccl", local_world_size=2, gpu_count=1) == "gloo"
    assert process_group_backend(gpu, "nccl", local_world_size=2, gpu_count=2) == "nccl"
    assert process_group_backend(torch.device("cpu"), "nccl", local_world_size=2, gpu_count=0) == "gloo"


# ---- training ---------------------------------------------------------------------------------

@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_training_steps_in_each_precision(amp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = one_clip_config(tmp_path)
    mels = record_mel_losses(monkeypatch)
    torch.manual_seed(0)
    train(TrainOptions(config=config, name="p", device="cuda", amp=amp, max_steps=12))
    assert len(mels) == 12 and all(np.isfinite(mels)), mels
    assert np.mean(mels[-3:]) < 0.8 * mels[0], mels
    saved = load_checkpoint(tmp_path / "chkpt" / "p" / "p_0012.pt")
    assert saved["step"] == 12
    assert all(torch.isfinite(v).all() for v in saved["model_g"].values())
    train(TrainOptions(config=config, name="p", device="cuda", amp=amp, max_steps=14,
                       resume=str(tmp_path / "chkpt" / "p" / "p_0012.pt")))
    assert load_checkpoint(tmp_path / "chkpt" / "p" / "p_0014.pt")["step"] == 14


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.cuda
@needs_cuda
def test_two_ddp_processes_on_one_gpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hp_ = OmegaConf.merge(OmegaConf.load(TINY), FAST)
    make_synthetic_dataset(str(tmp_path), hp_, items_per_speaker=2, speakers=2, seconds=(1.0,))
    OmegaConf.save(hp_, tmp_path / "config.yaml")
    train(TrainOptions(config=str(tmp_path / "config.yaml"), name="ddp", device="cuda", num_procs=2, max_steps=2,
                       master_port=_free_port()))
    saved = load_checkpoint(tmp_path / "chkpt" / "ddp" / "ddp_0002.pt")
    assert saved["step"] == 2
    assert all(torch.isfinite(v).all() for v in saved["model_g"].values())


# ---- conversion -------------------------------------------------------------------------------

def convert_on(device, hp_, model, precision="fp32"):
    frames = 400
    ppg, vec, spk = smooth_features(frames, seed=4)
    f0 = (220.0 + 30.0 * np.sin(np.arange(frames) / 25.0)).astype(np.float32)
    converter = SvcConverter(hp_, model, ConversionSettings(device=device, no_noise=True, seed=7, progress=False,
                                                            precision=precision))
    # on a GPU: weight norm folded, plain decoder (the CPU fast path is 12-16x slower there)
    assert converter.model.folded and isinstance(converter.model.dec, TiledGenerator) == (device == "cpu")
    # torch's CPU and CUDA generators give different numbers for one seed: the NSF excitation's
    # random phases and noise are drawn on the CPU for every device, so only the arithmetic differs
    on_cpu = copy.deepcopy(converter.model).cpu()
    converter.model.pitch2source = lambda f0, seed=None: on_cpu.pitch2source(f0.cpu(), seed).to(f0.device)
    return converter.convert(spk, given=Features(ppg, vec, f0))


@pytest.mark.cuda
@needs_cuda
def test_conversion_on_cuda_equals_cpu(hp, model_files):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    on_cpu = convert_on("cpu", hp, model_files[0])
    on_gpu = convert_on("cuda", hp, model_files[0])
    assert on_gpu.shape == on_cpu.shape
    assert np.abs(on_gpu - on_cpu).max() <= FP32_TOLERANCE * max(1.0, np.abs(on_cpu).max())
    for precision, tolerance in HALF_RMS_TOLERANCE.items():
        half = convert_on("cuda", hp, model_files[0], precision)
        rms = np.sqrt(np.mean((half - on_gpu) ** 2)) / np.sqrt(np.mean(on_gpu ** 2))
        assert np.isfinite(half).all() and rms < tolerance, (precision, rms)


# ---- extractors -------------------------------------------------------------------------------

def sung_tone(seconds=3.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    f0 = 220.0 * 2 ** (0.5 * np.sin(2 * np.pi * 0.5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


@pytest.mark.cuda
@needs_cuda
def test_extractors_on_cuda_equal_cpu(tmp_path):
    from hubert.units import HubertSoft
    from common.checkpoint import CheckpointError
    from pitch.extractor import PitchExtractor
    from pitch.fcpe import locate_fcpe
    from speaker.encoder import SpeakerEncoder
    from tests import tiny_hubert, tiny_speaker, tiny_whisper
    from tests.test_fcpe import tiny_file as tiny_fcpe_file
    from whisper.ppg import WhisperPPG

    wav = sung_tone()
    whisper_ckpt = tiny_whisper.make_checkpoint(tmp_path / "w.pt")
    hubert_ckpt = tiny_hubert.make_checkpoint(tmp_path / "h.pt")
    speaker_ckpt = tiny_speaker.make_checkpoint(tmp_path / "s.pth.tar")
    pairs = {
        "whisper": lambda d: WhisperPPG(whisper_ckpt, device=d, noise=False)(wav),
        "hubert": lambda d: HubertSoft(hubert_ckpt, device=d)(wav),
        "speaker": lambda d: SpeakerEncoder(speaker_ckpt, device=d)(wav),
    }
    for name, run in pairs.items():
        cpu, gpu = run("cpu"), run("cuda")
        assert cpu.shape == gpu.shape, name
        # Whisper runs fp16 autocast on CUDA: compare by cosine per frame (per vector for the speaker)
        a, b = np.atleast_2d(cpu), np.atleast_2d(gpu)
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-9)
        assert cos.min() > 0.99, (name, cos.min())
    fcpe_weights = None
    try:
        locate_fcpe()
    except CheckpointError:  # torchfcpe not installed: a same-layout tiny file
        fcpe_weights = tmp_path / "fcpe.pt"
        tiny_fcpe_file(fcpe_weights)
    for method, weights in (("crepe", None), ("fcpe", fcpe_weights)):
        cpu = PitchExtractor(method=method, model="tiny", device="cpu", weights=weights).training(wav)
        gpu = PitchExtractor(method=method, model="tiny", device="cuda", weights=weights).training(wav)
        voiced = (cpu > 0) & (gpu > 0)
        assert voiced.mean() > 0.8
        cents = 1200 * np.abs(np.log2(gpu[voiced] / cpu[voiced]))
        assert np.median(cents) < 5, (method, np.median(cents))
