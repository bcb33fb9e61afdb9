"""Where every feature lives under the data root (default ./data_svc), and the file suffixes."""
import os
from dataclasses import dataclass

WAVE_SUFFIX = ".wav"
PITCH_SUFFIX = ".pit.npy"
PPG_SUFFIX = ".ppg.npy"
VEC_SUFFIX = ".vec.npy"
SPK_SUFFIX = ".spk.npy"
SPEC_SUFFIX = ".pt"


@dataclass(frozen=True)
class DataLayout:
    root: str = "./data_svc"

    def _sub(self, name):
        return os.path.join(self.root, name)

    @property
    def waves16(self):
        return self._sub("waves-16k")

    @property
    def waves32(self):
        return self._sub("waves-32k")

    @property
    def pitch(self):
        return self._sub("pitch")

    @property
    def whisper(self):
        return self._sub("whisper")

    @property
    def hubert(self):
        return self._sub("hubert")

    @property
    def speaker(self):
        return self._sub("speaker")

    @property
    def singer(self):
        return self._sub("singer")

    @property
    def specs(self):
        return self._sub("specs")

    def all_folders(self):
        return [self.waves16, self.waves32, self.pitch, self.whisper, self.hubert, self.speaker,
                self.singer, self.specs]


def is_wav(name):
    return name.lower().endswith(WAVE_SUFFIX)
