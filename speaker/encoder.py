"""SpeakerEncoder: 16 kHz wave -> 256-dim d-vector, as so-vits-svc-5.0's preprocess_speaker.py makes it.

The utterance embedding is Coqui's `compute_embedding`: 10 evenly spaced windows of 250 mel frames
(the whole utterance when shorter), each embedded to a unit vector, then averaged. The average is
not normalised again (like the public code), so its length is 1 for short input and a bit less
for long input whose windows differ.
"""
import numpy as np
import torch

from common import paths
from common.device import pick_device
from speaker.audio import melspectrogram
from speaker.checkpoint import load_speaker_model
from speaker.lstm import NUM_WINDOWS, embed_windows, window_starts

MAX_WINDOWS_PER_RUN = 160  # windows of 250 frames per LSTM call (16 files of 10 windows)


def cut_windows(mel):
    """mel [T, n_mels] -> [NUM_WINDOWS, L, n_mels] evaluation windows, L = min(250, T)."""
    starts, length = window_starts(mel.shape[0])
    return np.stack([mel[s:s + length] for s in starts])


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

    def embed_mels(self, mels):
        """Many utterances at once: windows of equal length share LSTM batches. -> list of float32 [256]."""
        by_length = {}  # window length -> [(utterance index, windows [NUM_WINDOWS, L, n_mels])]
        for index, mel in enumerate(mels):
            mel = np.asarray(mel, dtype=np.float32)
            if mel.ndim != 2 or mel.shape[0] == 0 or mel.shape[1] != self.model.input_dim:
                raise ValueError(f"expected mel frames [T, {self.model.input_dim}] with T > 0, got {mel.shape}; "
                                 f"make them with speaker.audio.melspectrogram(wav16k)")
            windows = cut_windows(mel)
            by_length.setdefault(windows.shape[1], []).append((index, windows))
        vectors = [None] * len(mels)
        for group in by_length.values():
            stacked = np.concatenate([w for _, w in group])  # [len(group) * NUM_WINDOWS, L, n_mels]
            embedded = np.concatenate([
                embed_windows(self.model, torch.from_numpy(stacked[i:i + MAX_WINDOWS_PER_RUN]).to(self.device))
                .float().cpu().numpy()
                for i in range(0, len(stacked), MAX_WINDOWS_PER_RUN)
            ])  # [len(group) * NUM_WINDOWS, proj_dim]
            for slot, (index, _) in enumerate(group):
                vectors[index] = embedded[slot * NUM_WINDOWS:(slot + 1) * NUM_WINDOWS].mean(axis=0)
        return [np.ascontiguousarray(v, dtype=np.float32) for v in vectors]

    def extract_files(self, in_paths, out_paths, skip_existing=True, progress=True, workers=0):
        """One `<name>.spk.npy` per input file; bad inputs are skipped and reported.

        `workers` > 0 runs the audio front end in that many processes while the LSTM runs here.
        """
        from speaker.extract import extract_files

        return extract_files(self, in_paths, out_paths, skip_existing=skip_existing, progress=progress,
                             workers=workers)
