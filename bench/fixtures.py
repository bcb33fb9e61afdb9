"""Random-weight models and checkpoints of the real (or tiny) sizes, and input files, for the benches
(the weights do not change the cost)."""
import importlib.util
import os
import subprocess
import sys
import time

import numpy as np
import torch

from common.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_CONFIG = os.path.join(ROOT, "configs", "base.yaml")

# (whisper kwargs, hubert kwargs) of tests/tiny_whisper.py / tests/tiny_hubert.py make_checkpoint. small
# (quick runs): the real PPG width (the base-size generator needs it) but 2 Whisper layers, tiny HuBERT
EXTRACTOR_SIZES = {
    "full": (dict(n_mels=80, n_audio_state=1280, n_audio_head=20, n_audio_layer=32),   # large-v2
             dict(conv=512, width=768, ffn=3072, layers=12, pos_kernel=128, pos_groups=16)),  # HuBERT-Soft
    "small": (dict(n_mels=80, n_audio_state=1280, n_audio_head=20, n_audio_layer=2), dict()),
    "tiny": (dict(), dict()),
}
# the pitch benches' methods: (row label, PitchExtractor options, the optional package it needs)
PITCH_ROWS = [
    ("crepe full", dict(method="crepe", model="full"), None),
    ("crepe tiny", dict(method="crepe", model="tiny"), None),
    ("fcpe", dict(method="fcpe"), None),
    ("rmvpe", dict(method="rmvpe"), None),
    ("harvest", dict(method="harvest"), "pyworld"),
    ("dio", dict(method="dio"), "pyworld"),
    ("pm", dict(method="pm"), "parselmouth"),
    ("pyin", dict(method="pyin"), "librosa"),
]


def random_generator_state(hp, seed=0, spread=0.02):
    """Exported-layout generator weights (weight norm unfolded), every tensor nudged at random so
    zero-initialised parts (speaker adapter, Snake parameters) also shape the output."""
    from vits.models import SynthesizerInfer

    torch.manual_seed(seed)
    state = SynthesizerInfer.from_hparams(hp).state_dict()
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        if value.is_floating_point() and "filter" not in key and "merge_" not in key:
            value = value + spread * torch.randn(value.shape, generator=gen)
        out[key] = value
    return out


def training_models(hp, device, fast=None):
    """(SynthesizerTrn, Discriminator) of random weights in training mode on `device`; fast: None
    for the plain reference, else the options of vits_decoder.fast.accelerate(..., training=True)."""
    from vits.models import SynthesizerTrn
    from vits_decoder.discriminator import Discriminator
    from vits_decoder.fast import accelerate

    net_g, net_d = SynthesizerTrn.from_hparams(hp).to(device).train(), Discriminator(hp).to(device).train()
    return (net_g if fast is None else accelerate(net_g, device, training=True, **fast)), net_d


def conversion_models(hp, device, seed=0, **fast_options):
    """(plain, fast) SynthesizerInfer with the same random weights, eval mode, on `device`; the fast
    one through vits_decoder.fast.accelerate(model, device, **fast_options)."""
    from vits.models import SynthesizerInfer
    from vits_decoder.fast import accelerate

    state = random_generator_state(hp, seed)
    plain, fast = (SynthesizerInfer.from_hparams(hp).load_exported(state).eval().to(device) for _ in range(2))
    return plain, accelerate(fast, device, **fast_options)


def tests_module(name):
    """tests/<name>.py loaded by path (a `tests` package elsewhere on sys.path cannot shadow it)."""
    path = os.path.join(ROOT, "tests", name + ".py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extractor_checkpoints(folder, size="full"):
    """Write random Whisper and HuBERT-Soft checkpoints of an EXTRACTOR_SIZES size; returns (whisper_path,
    hubert_path)."""
    whisper_kw, hubert_kw = EXTRACTOR_SIZES[size]
    whisper = os.path.join(folder, "whisper.pt")
    hubert = os.path.join(folder, "hubert.pt")
    tests_module("tiny_whisper").make_checkpoint(whisper, **whisper_kw)
    tests_module("tiny_hubert").make_checkpoint(hubert, **hubert_kw)
    return whisper, hubert


def speaker_checkpoint(folder, full=True):
    """Write a random LSTM d-vector checkpoint (hidden 768 when full, else 16); returns its path."""
    path = os.path.join(folder, "speaker.pth.tar")
    tests_module("tiny_speaker").make_checkpoint(path, lstm_dim=768 if full else 16)
    return path


def generator_files(folder, config, seed=0):
    """Exported generator {'model_g': ...} and a speaker vector; returns (model_path, spk_path)."""
    hp = load_config(config)
    model = os.path.join(folder, "model.pth")
    torch.save({"model_g": random_generator_state(hp, seed)}, model)
    spk = os.path.join(folder, "singer.spk.npy")
    vec = np.random.default_rng(seed).standard_normal(hp.vits.spk_dim).astype(np.float32)
    np.save(spk, vec / np.linalg.norm(vec))
    return model, spk


def write_song(path, seconds, rate=44100, seed=0):
    """A stereo-free mono 'song': gliding harmonic tone with pauses, written as 16-bit WAV."""
    from common.audio import save_audio

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 200.0 * 2 ** (0.5 * np.sin(2 * np.pi * 0.2 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = (np.sin(2 * np.pi * 0.25 * t) > -0.7).astype(np.float32)
    wav = voiced * sum(0.25 / k * np.sin(k * phase) for k in range(1, 8)) + 0.005 * rng.standard_normal(t.size)
    save_audio(path, wav.astype(np.float32), rate)
    return path


def write_features(folder, seconds, config, seed=0):
    """Random PPG/units (.npy, 50 Hz) and a pitch CSV (100 Hz) for `seconds` of 16 kHz audio."""
    from pitch.csv_io import write_f0_csv

    hp = load_config(config)
    rng = np.random.default_rng(seed)
    frames = int(seconds * 100)
    ppg = os.path.join(folder, "in.ppg.npy")
    vec = os.path.join(folder, "in.vec.npy")
    pit = os.path.join(folder, "in.csv")
    np.save(ppg, rng.standard_normal((frames // 2, hp.vits.ppg_dim)).astype(np.float32))
    np.save(vec, rng.standard_normal((frames // 2, hp.vits.vec_dim)).astype(np.float32))
    f0 = 150.0 + 100.0 * rng.random(frames)
    f0[rng.random(frames) < 0.1] = 0.0
    write_f0_csv(pit, f0)
    return ppg, vec, pit


def _peak_of(pid):
    """VmHWM of a live process in MiB (its own peak since exec), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def run_measured(argv, what, env=None, poll_s=0.05):
    """Run a command; returns (wall seconds, peak RSS MiB of that process). A failure prints the
    command's output tail and stops the bench with "`what` failed with exit code N".

    Peak memory is the child's VmHWM, polled while it runs: the rusage maximum that os.wait4
    reports also counts the bench's own peak, which the child inherits through vfork + exec."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=env, text=True)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _peak_of(proc.pid) or 0.0)
        time.sleep(poll_s)
    reader.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print("".join(chunks)[-2000:])
        raise SystemExit(f"{what} failed with exit code {proc.returncode}")
    return wall, peak


def svc_inference_argv(config, model, spk, wave, out, whisper=None, hubert=None, extra=()):
    """The documented svc_inference.py command line."""
    argv = [sys.executable, os.path.join(ROOT, "svc_inference.py"), "--config", config, "--model", model,
            "--spk", spk, "--wave", wave, "--out", out]
    if whisper:
        argv += ["--whisper-checkpoint", whisper]
    if hubert:
        argv += ["--hubert-checkpoint", hubert]
    return argv + list(extra)


def pitch_extractors(rows, **overrides):
    """{label: PitchExtractor on the CPU} for PITCH_ROWS-style rows, and a note for each row that
    cannot run here (package or weights not installed). overrides: {label: extra options}."""
    from pitch.extractor import PitchExtractor

    extractors, notes = {}, []
    for label, options, package in rows:
        if package and importlib.util.find_spec(package) is None:
            notes.append(f"{label}: not installed (needs {package})")
            continue
        try:
            extractors[label] = PitchExtractor(device="cpu", **options, **overrides.get(label, {}))
        except (ValueError, ImportError) as e:  # weights not installed
            notes.append(f"{label}: {e}")
    return extractors, notes
