"""Where every feature lives under the data root (default ./data_svc), and the file suffixes."""
import os

WAVE_SUFFIX = ".wav"
PITCH_SUFFIX = ".pit.npy"
PPG_SUFFIX = ".ppg.npy"
VEC_SUFFIX = ".vec.npy"
SPK_SUFFIX = ".spk.npy"
SPEC_SUFFIX = ".pt"


class DataLayout:
    """The feature folders under one data root."""

    def __init__(self, root="./data_svc"):
        self.root = root
        self.waves16 = os.path.join(root, "waves-16k")
        self.waves32 = os.path.join(root, "waves-32k")
        self.pitch = os.path.join(root, "pitch")
        self.whisper = os.path.join(root, "whisper")
        self.hubert = os.path.join(root, "hubert")
        self.speaker = os.path.join(root, "speaker")
        self.singer = os.path.join(root, "singer")
        self.specs = os.path.join(root, "specs")


def is_wav(name):
    return name.lower().endswith(WAVE_SUFFIX)
