"""CREPE pitch tracking of 16 kHz audio: framing, per-frame normalisation, batched inference, decoding."""
import numpy as np
import torch

from pitch.crepe_decode import decode
from pitch.crepe_fast import FastCrepe
from pitch.crepe_net import FRAME
from pitch.weights import load_crepe


def frame_audio(wav, hop):
    """Centred frames: frame i covers samples [i*hop - 512, i*hop + 512), zero-padded at the ends.

    wav [N] -> [1 + N // hop, 1024] (a strided view; rows are copied per batch).
    """
    wav = torch.as_tensor(np.asarray(wav, dtype=np.float32))
    padded = torch.nn.functional.pad(wav, (FRAME // 2, FRAME // 2))
    count = 1 + wav.shape[0] // hop
    return padded.unfold(0, FRAME, hop)[:count]


def normalise(frames):
    """Zero mean, unit std per frame (std floored at 1e-10, as CREPE was trained)."""
    frames = frames - frames.mean(dim=1, keepdim=True)
    return frames / frames.std(dim=1, keepdim=True).clamp_min(1e-10)


class CrepeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz, periodicity), one value per hop."""

    def __init__(self, model="full", device="cpu", weights=None, batch_size=None, conv="auto"):
        self.device = torch.device(device)
        net = load_crepe(model, weights, "cpu")
        if conv == "auto":
            # FFT convolutions pay off for the wide "full" net on CPU; cuDNN is faster on GPUs
            conv = "fft" if (model == "full" and self.device.type == "cpu") else "direct"
        self.net = FastCrepe(net, conv).eval().to(self.device)
        self.batch_size = batch_size or (512 if self.device.type == "cuda" else 128)

    @torch.inference_mode()
    def activations(self, wav, hop):
        """[1 + len // hop, 360] sigmoid activations as float32 numpy."""
        frames = frame_audio(wav, hop)
        out = []
        for start in range(0, frames.shape[0], self.batch_size):
            batch = frames[start:start + self.batch_size].to(self.device, dtype=torch.float32)
            out.append(self.net(normalise(batch)).float().cpu())
        if not out:
            return np.zeros((0, 360), dtype=np.float32)
        return torch.cat(out).numpy()

    def track(self, wav, hop, fmin=50.0, fmax=1000.0, decoder="viterbi"):
        return decode(self.activations(wav, hop), fmin, fmax, decoder)
