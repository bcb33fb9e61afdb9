"""A small synthetic training set in the real file formats (docs/ARCHITECTURE.md), for smoke
tests of the trainer: harmonic tones as audio, their true spectrograms and pitch, random PPG,
units and speaker vectors of consistent lengths."""
import os

import numpy as np
import torch
from omegaconf import OmegaConf

from common.atomic import save_npy
from common.audio import save_audio
from common.checkpoint import save_checkpoint
from vits.spectrogram import spectrogram_torch

TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny.yaml")
# the trainer tests' discriminator trimmed further, logging every step, no pretrain file
FAST = {"mpd": {"periods": [2]}, "mrd": {"resolutions": [[512, 50, 240]]},
        "log": {"eval_interval": 1000, "save_interval": 1000, "info_interval": 1}, "train": {"pretrain": ""}}


def harmonic_tone(f0, seconds, sr, rng):
    t = np.arange(int(seconds * sr)) / sr
    vibrato = f0 * (1.0 + 0.02 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(vibrato) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.3
    return (wav + 0.003 * rng.standard_normal(t.size)).astype(np.float32), vibrato.astype(np.float32)


def write_item(root, speaker, name, seconds, f0, spk_vector, hp, rng):
    """Write one item's files under `root`; return its list line."""
    d = hp.data
    sr, hop = int(d.sampling_rate), int(d.hop_length)
    wav, f0_track = harmonic_tone(f0, seconds, sr, rng)
    wav = wav / max(1e-6, float(np.abs(wav).max())) * 0.6
    frames = wav.size // hop  # 100 Hz frames; 16 kHz features: samples16k // 160 = the same count
    paths = {key: os.path.join(root, folder, speaker, name + ext) for key, folder, ext in (
        ("wave", "waves-32k", ".wav"), ("spec", "specs", ".pt"), ("pitch", "pitch", ".pit.npy"),
        ("hubert", "hubert", ".vec.npy"), ("whisper", "whisper", ".ppg.npy"), ("spk", "speaker", ".spk.npy"))}
    save_audio(paths["wave"], wav, sr)
    pcm = np.round(wav * 32767.0) / 32767.0  # what the dataset will read back
    spec = spectrogram_torch(torch.from_numpy(pcm.astype(np.float32)).unsqueeze(0), d.filter_length, hop, d.win_length)
    save_checkpoint(spec[0, :, :frames].clone(), paths["spec"])  # [513, frames]
    save_npy(paths["pitch"], f0_track[::hop][:frames])
    save_npy(paths["hubert"], rng.standard_normal((frames // 2, int(hp.vits.vec_dim))).astype(np.float32))
    save_npy(paths["whisper"], rng.standard_normal((frames // 2, int(hp.vits.ppg_dim))).astype(np.float32))
    save_npy(paths["spk"], spk_vector)
    return "|".join(paths[k] for k in ("wave", "spec", "pitch", "hubert", "whisper", "spk"))


def make_synthetic_dataset(root, hp, items_per_speaker=2, speakers=2, seconds=(1.0, 1.5), seed=0):
    """Write files/train.txt (all items) and files/valid.txt (the first item) under `root`.

    Returns (train_list_path, valid_list_path)."""
    rng = np.random.default_rng(seed)
    lines = []
    for s in range(speakers):
        spk_vector = rng.standard_normal(int(hp.vits.spk_dim)).astype(np.float32)
        spk_vector /= np.linalg.norm(spk_vector)
        for i in range(items_per_speaker):
            length = seconds[i % len(seconds)]
            f0 = 140.0 * (1 + s) + 20.0 * i
            lines.append(write_item(root, f"spk{s}", f"item{i}", length, f0, spk_vector, hp, rng))
    train_list = os.path.join(root, "files", "train.txt")
    valid_list = os.path.join(root, "files", "valid.txt")
    os.makedirs(os.path.dirname(train_list), exist_ok=True)
    with open(train_list, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(valid_list, "w", encoding="utf-8") as f:
        f.write(lines[0] + "\n")
    return train_list, valid_list


def one_clip_config(root):
    """Config (path) training on one 60 ms clip, a little longer than the decoder window: nearly
    the same window every step, so a working trainer lowers the mel loss within 20 steps."""
    hp = OmegaConf.merge(OmegaConf.load(TINY), FAST, {
        "train": {"batch_size": 1, "learning_rate": 5e-3, "c_mel": 10.0, "min_seconds": 0.01},
        "data": {"training_files": "one.txt"}})
    rng = np.random.default_rng(0)
    spk = rng.standard_normal(256).astype(np.float32)
    with open(os.path.join(root, "one.txt"), "w", encoding="utf-8") as f:
        f.write(write_item(str(root), "s", "a", 0.06, 220.0, spk, hp, rng) + "\n")
    path = os.path.join(root, "config.yaml")
    OmegaConf.save(hp, path)
    return path


def record_mel_losses(monkeypatch):
    """A list that receives the mel loss of every generator step from now on."""
    from vits import train as train_step

    mels = []
    real = train_step.generator_losses

    def record(*args, **kwargs):
        out = real(*args, **kwargs)
        mels.append(out[0]["mel"].item())
        return out

    monkeypatch.setattr(train_step, "generator_losses", record)
    return mels
