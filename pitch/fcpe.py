"""FCPE pitch tracking of 16 kHz audio: 360 pitch bins per 10 ms frame, like CREPE, but from a mel
spectrogram of the whole clip instead of one waveform window per frame (~20x cheaper on a CPU). The
weights come from the installed torchfcpe wheel, found (like CREPE's) without importing the package.
"""
import numpy as np
import torch

from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked, sizes_of_layout
from pitch.crepe import run_in_chunks, wheel_asset
from pitch.crepe_decode import cents_to_hz, hz_to_cents, local_average
from pitch.fcpe_mel import HOP, SAMPLE_RATE, LogMel
from pitch.fcpe_net import FcpeNet, FcpeSizes

# frames per window of the conv body on long clips (the result does not depend on it)
CHUNK_FRAMES = 4096
FCPE_HINT = (
    "Install the package that ships it with `pip install torchfcpe` (only its weight file is read; "
    "it is never imported), or pass the file with --fcpe-weights PATH."
)


def locate_fcpe(weights=None, package="torchfcpe"):
    """Path of the FCPE weights: `weights` when given, else <torchfcpe>/assets/fcpe_c_v001.pt."""
    return wheel_asset(weights, package, "fcpe_c_v001.pt", "FCPE weights", FCPE_HINT)


def load_fcpe(weights=None):
    """(FcpeNet in eval mode, LogMel settings) from the torchfcpe file or one of its layout: {"model":
    state dict, "config_dict": {"mel": {...}, ...}, ...}, or a bare state dict (standard mel settings)."""
    path = locate_fcpe(weights)
    ckpt = load_checkpoint(path, what="FCPE weights", hint=FCPE_HINT)
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"FCPE weights {path} hold a {type(ckpt).__name__}, not a dict. {FCPE_HINT}")
    state = ckpt.get("model", ckpt)
    if not isinstance(state, dict):
        raise CheckpointError(f"FCPE weights {path}: 'model' holds a {type(state).__name__}, not a state dict. {FCPE_HINT}")
    sizes = sizes_of_layout(FcpeSizes.from_state_dict, state, path, "FCPE", FCPE_HINT)
    net = FcpeNet(sizes)
    load_state_dict_checked(net, state, path, what="FCPE")
    # the file's mel settings, checked against what the 100 Hz grid needs
    mel = dict((ckpt.get("config_dict") or {}).get("mel") or {})
    sr, hop = mel.get("sr", SAMPLE_RATE), mel.get("hop_size", HOP)
    n_fft, win = mel.get("n_fft", 1024), mel.get("win_size", mel.get("n_fft", 1024))
    if sr != SAMPLE_RATE or hop != HOP or win != n_fft or mel.get("num_mels", sizes.mels) != sizes.mels:
        raise CheckpointError(
            f"FCPE weights {path} were trained on other features (sr {sr}, hop {hop}, n_fft {n_fft}, "
            f"window {win}, {mel.get('num_mels')} mels); this toolkit needs 16 kHz, hop 160, window = n_fft. {FCPE_HINT}")
    fmin, fmax = mel.get("fmin") or 0.0, mel.get("fmax") or sr / 2
    return net.eval(), dict(n_mels=sizes.mels, sample_rate=sr, n_fft=n_fft, hop=hop, fmin=fmin, fmax=fmax)


class FcpeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz, confidence), one value per hop; confidence
    is the strongest bin's activation (0..1), as FCPE has no separate voicing output."""

    def __init__(self, device="cpu", weights=None, chunk_frames=CHUNK_FRAMES):
        self.device = torch.device(device)
        net, mel_settings = load_fcpe(weights)
        self.mel = LogMel(**mel_settings).to(self.device)
        self.net = net.to(self.device)
        self.cents = net.cent_table.double().cpu().numpy()
        self.chunk_frames = max(int(chunk_frames), 1)

    @torch.inference_mode()
    def activations(self, wav):
        """[1 + len // 160, bins] float32 numpy."""
        wav = torch.as_tensor(np.asarray(wav, dtype=np.float32), device=self.device)
        stem = self.net.stem(self.mel(wav)[None])  # [1, H, T]
        return run_in_chunks(lambda lo, hi: self.net.body(stem[..., lo:hi])[0],  # [hi - lo, bins]
                             stem.shape[-1], self.chunk_frames, self.net.receptive_half())

    def track(self, wav, hop=HOP, fmin=50.0, fmax=1000.0, progress=None):  # (one pass)
        """The strongest bin inside fmin..fmax, refined by the local weighted average."""
        if hop % HOP:
            raise ValueError(f"FCPE works on a {HOP}-sample hop; hop {hop} is not a multiple of it.")
        acts = self.activations(wav)[:: hop // HOP].astype(np.float64)
        first = int(np.searchsorted(self.cents, hz_to_cents(fmin), side="left"))
        stop = max(int(np.searchsorted(self.cents, hz_to_cents(fmax), side="right")), first + 1)
        masked = np.zeros_like(acts)
        masked[:, first:stop] = acts[:, first:stop]
        peak = np.argmax(masked, axis=1)
        return cents_to_hz(local_average(masked, peak, self.cents)), masked[np.arange(len(peak)), peak]
