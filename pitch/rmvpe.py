"""RMVPE pitch tracking of 16 kHz audio (trained to follow the voice inside a mix) from the file RVC and
so-vits-svc 4.1 use (`rmvpe.pt`: a bare state dict, or {"model": state dict}; fp16 or fp32 tensors).

Front end as trained: 1024-sample Hann window, hop 160, frame i centred on sample i * 160; |STFT|
through 128 HTK-mel bands of 30 Hz - 8 kHz (Slaney-normalised), natural log of max(., 1e-5). Decoding
as the public code: the strongest of CREPE's 360 bins, the local weighted average around it,
"unvoiced" where the strongest is at most the threshold.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked, sizes_of_layout
from common.extractor import resolve_weights
from common.paths import RMVPE_CKPT
from pitch import fcpe_mel
from pitch.crepe import run_in_chunks
from pitch.crepe_decode import BIN_CENTS, cents_to_hz, local_average
from pitch.rmvpe_net import N_MELS, RmvpeNet, RmvpeSizes

HOP = 160
VOICED_THRESHOLD = 0.03  # RVC's; so-vits-svc 4.1 uses 0.05
# Long songs run through the network in pieces of CHUNK_FRAMES output frames, each seen with
# CONTEXT_FRAMES of the song on both sides (both multiples of 32, so the U-Net's pooling grid is the
# whole song's). Up to CHUNK_FRAMES + 2 * CONTEXT_FRAMES frames (~102 s) run in one piece, exactly
# as the public code does.
CHUNK_FRAMES = 8192
CONTEXT_FRAMES = 1024


def decode(salience, threshold=VOICED_THRESHOLD):
    """salience [T, 360] -> (f0 Hz [T] with 0 where unvoiced, strongest salience [T])."""
    salience = np.asarray(salience, dtype=np.float64)
    peak = np.argmax(salience, axis=1)
    strength = salience[np.arange(len(peak)), peak]
    f0 = cents_to_hz(local_average(salience, peak, BIN_CENTS))
    return np.where(strength > threshold, f0, 0.0), strength


class LogMel(fcpe_mel.LogMel):
    def __init__(self):
        super().__init__(N_MELS, fmin=30.0, fmax=8000.0, htk=True, centred=True, eps=0.0)


def load_rmvpe(weights=None):
    """RmvpeNet in fp32 eval mode, with the weights of the public file (or one of its layout); by default
    rmvpe_pretrain/rmvpe.pt (working folder, then repository)."""
    from common.download import WEIGHTS

    path = resolve_weights(weights or RMVPE_CKPT)
    weight = WEIGHTS["rmvpe"]
    hint = (f"Put rmvpe.pt into the folder {os.path.dirname(os.path.abspath(path))}: run "
            f"`python svc_download.py --only rmvpe`; or download it by hand from {weight.urls[0]} "
            f"(page: {weight.page}); or pass another file with --rmvpe-weights PATH.")
    ckpt = load_checkpoint(path, what="RMVPE weights", hint=hint)
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"RMVPE weights {path} hold no state dict of tensors; it is not an RMVPE file. {hint}")
    net = RmvpeNet(sizes_of_layout(RmvpeSizes.from_state_dict, state, path, "RMVPE", hint))
    # the published file stores fp16 tensors; the network runs in fp32 (load_state_dict casts)
    load_state_dict_checked(net, state, path, what="RMVPE")
    return net.eval()


class RmvpeTracker:
    """Loads the network once; `track(wav16k, hop)` -> (f0 Hz with 0 where unvoiced, salience peak)."""

    def __init__(self, device="cpu", weights=None, chunk_frames=CHUNK_FRAMES, context_frames=CONTEXT_FRAMES):
        self.device = torch.device(device)
        self.net = load_rmvpe(weights).to(self.device)
        self.mel = LogMel().to(self.device)
        multiple = self.net.sizes.frame_multiple
        self.chunk_frames = max(multiple, int(chunk_frames) // multiple * multiple)
        self.context_frames = int(context_frames) // multiple * multiple

    def _run(self, mel):
        """mel [T, 128] -> salience [T, 360]; zero-padded at the end to the U-Net's frame multiple."""
        padded = F.pad(mel, (0, 0, 0, -mel.shape[0] % self.net.sizes.frame_multiple))
        return self.net(padded[None])[0, :mel.shape[0]]

    @torch.inference_mode()
    def salience(self, wav, progress=None):
        """[1 + len // 160, 360] float32 numpy; progress(chunks done, total)."""
        wav = torch.as_tensor(np.asarray(wav, dtype=np.float32), device=self.device)
        mel = self.mel(wav)  # [T, 128]
        if mel.shape[0] <= self.chunk_frames + 2 * self.context_frames:
            return self._run(mel).float().cpu().numpy()
        return run_in_chunks(lambda lo, hi: self._run(mel[lo:hi]), mel.shape[0], self.chunk_frames,
                             self.context_frames, progress)

    def track(self, wav, hop=HOP, fmin=None, fmax=None, progress=None):
        """fmin/fmax are accepted for the tracker interface; RMVPE decodes over its whole range with
        its own local average, as the public code does."""
        if hop % HOP:
            raise ValueError(f"RMVPE works on a {HOP}-sample hop; hop {hop} is not a multiple of it.")
        return decode(self.salience(wav, progress)[:: hop // HOP])
