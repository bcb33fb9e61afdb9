"""SpeakerEncoder: 16 kHz wave -> 256-dim d-vector, as so-vits-svc-5.0's preprocess_speaker.py makes it:
Coqui's `compute_embedding`, the mean of 10 windows' unit vectors, not normalised again (like the public
code), so its length is a bit less than 1 for long input whose windows differ."""
import numpy as np
import torch

from common import paths
from common.checkpoint import CheckpointError, load_state_dict_checked
from common.device import pick_device
from common.download import WEIGHTS
from common.extractor import download_hint, load_weights, strip_prefix
from speaker.audio import N_MELS, melspectrogram
from speaker.lstm import NUM_WINDOWS, LSTMSpeakerEncoder, sizes_from_state_dict, window_starts

WHAT = "Speaker encoder checkpoint"
WEIGHT = WEIGHTS["speaker"]  # best_model.pth.tar, the LSTM speaker encoder used by so-vits-svc-5.0
MAX_WINDOWS_PER_RUN = 160  # windows of 250 frames per LSTM call (16 files of 10 windows)


def load_speaker_model(path=paths.SPEAKER_CKPT):
    """Build an LSTMSpeakerEncoder sized from the file's tensors and load its weights (CPU, eval mode)."""
    path, ckpt = load_weights(path, WHAT, WEIGHT)
    # the state dict: the checkpoint's 'model' entry (Coqui/Mozilla layout) or the dict itself
    if isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict):
        state = ckpt["model"]
    elif isinstance(ckpt, dict) and any(str(k).startswith(("layers.", "module.layers.")) for k in ckpt):
        state = ckpt
    else:
        held = ", ".join(sorted(map(str, ckpt))[:8]) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{WHAT} {path} has no 'model' state dict (it holds: {held or 'nothing'}). "
                              f"It is not a speaker encoder file. {download_hint(path, WEIGHT)}")
    state = strip_prefix(state, "module.")
    if "layers.lstm.weight_ih_l0" in state:
        raise CheckpointError(f"{WHAT} {path} is the variant without per-layer projections, which "
                              f"so-vits-svc-5.0 does not use. {download_hint(path, WEIGHT)}")
    try:
        input_dim, proj_dim, lstm_dim, num_layers = sizes_from_state_dict(state)
    except (KeyError, IndexError, AttributeError):
        found = ", ".join(sorted(state)[:4]) or "nothing"
        raise CheckpointError(f"{WHAT} {path} lacks the LSTM weights layers.0.lstm.* (it holds: {found}). "
                              f"{download_hint(path, WEIGHT)}") from None
    if input_dim != N_MELS:
        raise CheckpointError(f"{WHAT} {path} expects {input_dim} mel bands but this front end makes {N_MELS} "
                              f"(the so-vits-svc-5.0 speaker encoder). {download_hint(path, WEIGHT)}")
    model = LSTMSpeakerEncoder(input_dim, proj_dim, lstm_dim, num_layers)
    load_state_dict_checked(model, state, path, what="Speaker encoder")
    return model.eval()


class SpeakerEncoder:
    def __init__(self, checkpoint=paths.SPEAKER_CKPT, device="auto"):
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.model = load_speaker_model(checkpoint).to(self.device)
        self.dim = self.model.proj_dim

    def __call__(self, wav16k):
        """Mono float32 wave at 16 kHz -> float32 [256] d-vector."""
        return self.embed_mel(melspectrogram(wav16k))

    def embed_mel(self, mel):
        """Front-end frames [T, 80] (speaker.audio.melspectrogram) -> float32 [256]."""
        return self.embed_mels([mel])[0]

    @torch.inference_mode()
    def embed_mels(self, mels):
        """Many utterances at once: windows of equal length share LSTM batches. -> list of float32 [256]."""
        by_length = {}  # window length -> [(utterance index, windows [NUM_WINDOWS, L, n_mels])]
        for index, mel in enumerate(mels):
            mel = np.asarray(mel, dtype=np.float32)
            if mel.ndim != 2 or mel.shape[0] == 0 or mel.shape[1] != self.model.input_dim:
                raise ValueError(f"expected mel frames [T, {self.model.input_dim}] with T > 0, got {mel.shape}; "
                                 f"make them with speaker.audio.melspectrogram(wav16k)")
            starts, length = window_starts(mel.shape[0])
            by_length.setdefault(length, []).append((index, np.stack([mel[s:s + length] for s in starts])))
        vectors = [None] * len(mels)
        for group in by_length.values():
            stacked = np.concatenate([w for _, w in group])  # [len(group) * NUM_WINDOWS, L, n_mels]
            embedded = torch.cat([
                self.model(torch.from_numpy(stacked[i:i + MAX_WINDOWS_PER_RUN]).to(self.device)).float().cpu()
                for i in range(0, len(stacked), MAX_WINDOWS_PER_RUN)
            ]).numpy()  # [len(group) * NUM_WINDOWS, proj_dim]
            for slot, (index, _) in enumerate(group):
                vectors[index] = embedded[slot * NUM_WINDOWS:(slot + 1) * NUM_WINDOWS].mean(axis=0)
        return [np.ascontiguousarray(v, dtype=np.float32) for v in vectors]
