"""RMVPE pitch tracking of 16 kHz audio: weight file, log-mel front end, chunked inference, decoding.

RMVPE ("Robust Model for Vocal Pitch Estimation in Polyphonic Music") was trained to follow the
voice inside a mix. It reads the file RVC and so-vits-svc 4.1 use (`rmvpe.pt`: a bare state dict, or
{"model": state dict}; fp16 or fp32 tensors), by default from rmvpe_pretrain/rmvpe.pt.

Front end, as the network was trained: 1024-sample Hann window, hop 160, centred (reflect padding),
so frame i is centred on sample i * 160 (i x 10 ms, the toolkit's grid); |STFT| through 128 HTK-mel
bands of 30 Hz - 8 kHz (Slaney-normalised triangles), natural log of max(., 1e-5).

Decoding, as the public code: the strongest of the 360 bins (20 cents apart, 31.7 Hz - 2 kHz), the
salience-weighted mean of the bin cents within +-4 bins of it, and "unvoiced" where that strongest
salience is at most VOICED_THRESHOLD.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from common.audio import EXTRACT_RATE
from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked, sizes_of_layout
from common.extractor import resolve_weights
from common.mel_filters import mel_filters
from common.paths import RMVPE_CKPT
from pitch.rmvpe_net import N_BINS, N_MELS, RmvpeNet, RmvpeSizes

N_FFT, HOP = 1024, 160
FMIN, FMAX = 30.0, 8000.0
LOG_FLOOR = 1e-5
CENTS_FIRST, CENTS_STEP = 1997.3794084376191, 20.0  # cents above 10 Hz of bin 0, bin spacing
HALF_WIDTH = 4  # bins each side of the peak in the local average
VOICED_THRESHOLD = 0.03  # RVC's; so-vits-svc 4.1 uses 0.05
# Long songs run through the network in pieces of CHUNK_FRAMES output frames, each seen with
# CONTEXT_FRAMES of the song on both sides (both multiples of 32, so the U-Net's pooling grid is the
# whole song's). Up to CHUNK_FRAMES + 2 * CONTEXT_FRAMES frames (~102 s) run in one piece, exactly
# as the public code does.
CHUNK_FRAMES = 8192
CONTEXT_FRAMES = 1024

HINT_TAIL = "or pass another file with --rmvpe-weights PATH."


def weight_hint(path):
    """How to get the missing or broken file at `path`."""
    from common.download import WEIGHTS

    weight = WEIGHTS.get("rmvpe")
    manual = f"download it by hand from {weight.urls[0]} (page: {weight.page}); " if weight else ""
    return (f"Put rmvpe.pt into the folder {os.path.dirname(os.path.abspath(path))}: run "
            f"`python svc_download.py --only rmvpe`; or {manual}{HINT_TAIL}")


def bin_cents():
    """[360] float64 cents above 10 Hz of each salience bin."""
    return CENTS_FIRST + CENTS_STEP * np.arange(N_BINS)


def cents_to_hz(cents):
    return 10.0 * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def decode(salience, threshold=VOICED_THRESHOLD):
    """salience [T, 360] -> (f0 Hz [T] with 0 where unvoiced, strongest salience [T])."""
    salience = np.asarray(salience, dtype=np.float64)
    if salience.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    peak = np.argmax(salience, axis=1)
    strength = salience[np.arange(len(peak)), peak]
    # +-4 bins around the peak; bins past either end of the table count as salience 0
    near = peak[:, None] + np.arange(-HALF_WIDTH, HALF_WIDTH + 1)  # [T, 9]
    inside = (near >= 0) & (near < N_BINS)
    near = np.clip(near, 0, N_BINS - 1)
    weights = np.where(inside, np.take_along_axis(salience, near, axis=1), 0.0)
    cents = (weights * bin_cents()[near]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-30)
    voiced = strength > threshold
    return np.where(voiced, cents_to_hz(cents), 0.0), strength


class LogMel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        basis = mel_filters(EXTRACT_RATE, N_FFT, N_MELS, FMIN, FMAX, htk=True)
        self.register_buffer("basis", torch.from_numpy(basis), persistent=False)  # [128, 513]
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    @torch.no_grad()
    def forward(self, wav):
        """wav [N] float32 -> [1 + N // 160, 128] log-mel; frame i centred on sample i * 160."""
        half = N_FFT // 2
        # reflection needs more samples than the pad; very short clips are zero-padded instead
        mode = "reflect" if wav.shape[-1] > half else "constant"
        x = F.pad(wav.reshape(1, 1, -1), (half, half), mode=mode)[0, 0]
        spec = torch.stft(x, N_FFT, HOP, window=self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real.square() + spec.imag.square())  # [513, T]
        return torch.log((self.basis @ mag).clamp_min(LOG_FLOOR)).T  # [T, 128]


def locate_rmvpe(weights=None):
    """The weight file: `weights` when given, else rmvpe_pretrain/rmvpe.pt (working folder, then repository)."""
    return resolve_weights(weights or RMVPE_CKPT)


def load_rmvpe(weights=None, device="cpu"):
    """RmvpeNet in fp32 eval mode on `device`, with the weights of the public file (or one of its layout)."""
    path = locate_rmvpe(weights)
    hint = weight_hint(path)
    ckpt = load_checkpoint(path, what="RMVPE weights", hint=hint)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"RMVPE weights {path} hold no state dict of tensors; it is not an RMVPE file. {hint}")
    net = RmvpeNet(sizes_of_layout(RmvpeSizes.from_state_dict, state, path, "RMVPE", hint))
    # the published file stores fp16 tensors; the network runs in fp32 (load_state_dict casts)
    load_state_dict_checked(net, state, path, what="RMVPE")
    return net.eval().to(torch.device(device))


class RmvpeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz with 0 where unvoiced, salience peak)."""

    def __init__(self, device="cpu", weights=None, chunk_frames=CHUNK_FRAMES, context_frames=CONTEXT_FRAMES):
        self.device = torch.device(device)
        self.net = load_rmvpe(weights, "cpu").to(self.device)
        self.mel = LogMel().to(self.device)
        multiple = self.net.sizes.frame_multiple
        self.chunk_frames = max(multiple, int(chunk_frames) // multiple * multiple)
        self.context_frames = int(context_frames) // multiple * multiple

    def _run(self, mel):
        """mel [T, 128] -> salience [T, 360]; zero-padded at the end to the U-Net's frame multiple."""
        frames = mel.shape[0]
        multiple = self.net.sizes.frame_multiple
        padded = F.pad(mel, (0, 0, 0, -frames % multiple))
        return self.net(padded[None])[0, :frames]

    @torch.inference_mode()
    def salience(self, wav, progress=None):
        """[1 + len // 160, 360] float32 numpy; progress(chunks done, total)."""
        wav = torch.as_tensor(np.asarray(wav, dtype=np.float32), device=self.device)
        mel = self.mel(wav)  # [T, 128]
        total = mel.shape[0]
        if total <= self.chunk_frames + 2 * self.context_frames:
            return self._run(mel).float().cpu().numpy()
        out, chunks = [], -(-total // self.chunk_frames)
        for start in range(0, total, self.chunk_frames):
            stop = min(start + self.chunk_frames, total)
            lo, hi = max(start - self.context_frames, 0), min(stop + self.context_frames, total)
            out.append(self._run(mel[lo:hi])[start - lo:stop - lo].float().cpu())
            if progress:
                progress(len(out), chunks)
        return torch.cat(out).numpy()

    def track(self, wav, hop=HOP, fmin=None, fmax=None, decoder=None, progress=None, threshold=VOICED_THRESHOLD):
        """fmin/fmax/decoder are accepted for the tracker interface; RMVPE decodes over its whole
        range with its own local average, as the public code does."""
        if hop % HOP:
            raise ValueError(f"RMVPE works on a {HOP}-sample hop; hop {hop} is not a multiple of it.")
        return decode(self.salience(wav, progress)[:: hop // HOP], threshold)
