"""FCPE pitch tracking of 16 kHz audio: weights, log-mel front end, network, local weighted-average
decoding.

FCPE scores 360 pitch bins per 10 ms frame, like CREPE, but from a mel spectrogram of the whole clip
instead of one waveform window per frame, which is what makes it ~20x cheaper on a CPU. Its weights
come from the installed torchfcpe wheel, found (like CREPE's) without importing the package.
"""
import os

import numpy as np
import torch

from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked, sizes_of_layout
from pitch.crepe import package_dir
from pitch.crepe_decode import REFINE_HALF_WIDTH, cents_to_hz, hz_to_cents
from pitch.fcpe_mel import HOP, SAMPLE_RATE, LogMel
from pitch.fcpe_net import FcpeNet, FcpeSizes

DECODERS = ("local_argmax",)
# frames per window of the conv body on long clips (the result does not depend on it)
CHUNK_FRAMES = 4096

FCPE_FILE = "fcpe_c_v001.pt"
FCPE_HINT = (
    "Install the package that ships it with `pip install torchfcpe` (only its weight file is read; "
    "it is never imported), or pass the file with --fcpe-weights PATH."
)


def locate_fcpe(weights=None, package="torchfcpe"):
    """Path of the FCPE weights: `weights` when given, else <torchfcpe>/assets/fcpe_c_v001.pt."""
    if weights:
        return os.fspath(weights)
    folder = package_dir(package)
    if folder is None:
        raise CheckpointError(f"FCPE weights not found: the {package} package is not installed. {FCPE_HINT}")
    path = os.path.join(folder, "assets", FCPE_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"FCPE weights not found: {path} is missing from the {package} install. {FCPE_HINT}")
    return path


def load_fcpe(weights=None, device="cpu", package="torchfcpe"):
    """(FcpeNet in eval mode on `device`, LogMel settings) from the torchfcpe file or one of its layout.

    The file is {"model": state dict, "config_dict": {"mel": {...}, "model": {...}}, ...}; a bare state
    dict is accepted too (then the standard mel settings apply)."""
    path = locate_fcpe(weights, package)
    ckpt = load_checkpoint(path, what="FCPE weights", hint=FCPE_HINT)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"FCPE weights {path} hold a {type(ckpt).__name__}, not a dict. {FCPE_HINT}")
    state = ckpt.get("model", ckpt)
    config = ckpt.get("config_dict") or {}
    if not isinstance(state, dict):
        raise CheckpointError(f"FCPE weights {path}: 'model' holds a {type(state).__name__}, not a state dict. {FCPE_HINT}")
    sizes = sizes_of_layout(FcpeSizes.from_state_dict, state, path, "FCPE", FCPE_HINT)
    net = FcpeNet(sizes)
    load_state_dict_checked(net, state, path, what="FCPE")
    return net.eval().to(torch.device(device)), _mel_settings(dict(config.get("mel") or {}), sizes.mels, path)


def _mel_settings(mel, mels, path):
    """Check the file's mel settings against what the 100 Hz grid needs; returns LogMel kwargs."""
    sr, hop = mel.get("sr", SAMPLE_RATE), mel.get("hop_size", HOP)
    n_fft, win = mel.get("n_fft", 1024), mel.get("win_size", mel.get("n_fft", 1024))
    if sr != SAMPLE_RATE or hop != HOP or win != n_fft or mel.get("num_mels", mels) != mels:
        raise CheckpointError(
            f"FCPE weights {path} were trained on other features (sr {sr}, hop {hop}, n_fft {n_fft}, "
            f"window {win}, {mel.get('num_mels')} mels); this toolkit needs 16 kHz, hop 160, window = n_fft. {FCPE_HINT}")
    fmax = mel.get("fmax") or sr / 2
    return dict(n_mels=mels, sample_rate=sr, n_fft=n_fft, hop=hop, fmin=mel.get("fmin") or 0.0, fmax=fmax)


def local_average_cents(activations, cents, first, stop):
    """Strongest bin inside [first, stop), then the activation-weighted mean of the bin cents within
    +-4 bins of it (also inside the range). activations [T, bins] -> (cents [T], strength [T])."""
    allowed = np.zeros(activations.shape[1], bool)
    allowed[first:stop] = True
    masked = np.where(allowed, activations, 0.0)
    peak = np.argmax(masked, axis=1)
    strength = masked[np.arange(len(peak)), peak]
    near = np.clip(peak[:, None] + np.arange(-REFINE_HALF_WIDTH, REFINE_HALF_WIDTH + 1), 0, activations.shape[1] - 1)
    duplicate = np.diff(near, axis=1, prepend=-1) == 0  # clipped indices at the table ends, counted once
    weights = np.where(duplicate, 0.0, np.take_along_axis(masked, near, axis=1))  # [T, 9]
    total = weights.sum(axis=1)
    mean = (weights * cents[near]).sum(axis=1) / np.maximum(total, 1e-12)
    return np.where(total > 0, mean, cents[peak]), strength


class FcpeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz, confidence), one value per hop.

    confidence is the strongest bin's activation (0..1); FCPE has no separate voicing output.
    """

    def __init__(self, device="cpu", weights=None, chunk_frames=CHUNK_FRAMES):
        self.device = torch.device(device)
        net, mel_settings = load_fcpe(weights, "cpu")
        self.mel = LogMel(**mel_settings).to(self.device)
        self.net = net.to(self.device)
        self.cents = net.cent_table.double().cpu().numpy()
        self.chunk_frames = max(int(chunk_frames), 1)

    @torch.inference_mode()
    def activations(self, wav):
        """[1 + len // 160, bins] float32 numpy."""
        wav = torch.as_tensor(np.asarray(wav, dtype=np.float32), device=self.device)
        mel = self.mel(wav)[None]  # [1, T, M]
        stem = self.net.stem(mel)  # [1, H, T]
        frames, context = stem.shape[-1], self.net.receptive_half()
        out = []
        for start in range(0, frames, self.chunk_frames):
            stop = min(start + self.chunk_frames, frames)
            lo, hi = max(start - context, 0), min(stop + context, frames)
            acts = self.net.body(stem[..., lo:hi])  # [1, hi - lo, bins]
            out.append(acts[0, start - lo:stop - lo].float().cpu())
        return torch.cat(out).numpy()

    def track(self, wav, hop=HOP, fmin=50.0, fmax=1000.0, decoder="local_argmax", progress=None):  # (one pass)
        if decoder not in DECODERS:
            raise ValueError(f"FCPE decoder {decoder!r} is unknown: use {' or '.join(DECODERS)}.")
        if hop % HOP:
            raise ValueError(f"FCPE works on a {HOP}-sample hop; hop {hop} is not a multiple of it.")
        acts = self.activations(wav)[:: hop // HOP].astype(np.float64)
        first = int(np.searchsorted(self.cents, hz_to_cents(fmin), side="left"))
        stop = int(np.searchsorted(self.cents, hz_to_cents(fmax), side="right"))
        cents, strength = local_average_cents(acts, self.cents, first, max(stop, first + 1))
        return cents_to_hz(cents), strength
