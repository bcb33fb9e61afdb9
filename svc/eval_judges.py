"""Independent pretrained judges whose wheels ship their weights (so they work offline), both optional:
- resemblyzer: a GE2E speaker encoder (Wan et al. 2018), trained apart from ours, so a timbre score
  that both encoders agree on is not an artefact of the encoder the model was conditioned on.
  It imports torch, librosa and webrtcvad, not torchaudio.
- speechmos: Microsoft's DNSMOS (overall quality, P.808 MOS) as ONNX models run by onnxruntime.
"""
import importlib.util
import warnings

import numpy as np

from common.audio import EXTRACT_RATE


def installed(package):
    return importlib.util.find_spec(package) is not None


def wanted(choice, package, what):
    """'auto' -> whether `package` is installed; 'on' -> True or an ImportError naming the fix; 'off' -> False."""
    if choice == "off":
        return False
    if installed(package):
        return True
    if choice == "on":
        raise ImportError(f"{what} needs the '{package}' package: pip install {package} "
                          f"(or leave the judge on 'auto' to skip it when absent).")
    return False


GATE_FRAME = EXTRACT_RATE * 30 // 1000  # 30 ms
GATE_DB = 40.0                          # frames this far below the loudest frame are pauses


def drop_pauses(wav):
    """`wav` without its 30 ms frames more than GATE_DB below the loudest one. (resemblyzer's own
    preprocessing cuts pauses with webrtcvad, a speech detector that also cuts sustained sung notes.)"""
    frames = wav[:len(wav) // GATE_FRAME * GATE_FRAME].reshape(-1, GATE_FRAME)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    if energy.size == 0 or energy.max() == 0:
        raise ValueError("the audio is silent: no voice for the GE2E encoder.")
    return frames[energy >= energy.max() * 10 ** (-GATE_DB / 10)].ravel()


class Ge2eEncoder:
    """16 kHz wave -> unit 256-dim GE2E speaker embedding (resemblyzer's bundled weights)."""

    def __init__(self, device="cpu"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # webrtcvad's pkg_resources and scipy deprecation warnings
            from resemblyzer import VoiceEncoder
            from resemblyzer.audio import normalize_volume
            from resemblyzer.hparams import audio_norm_target_dBFS
        self.normalise = lambda wav: normalize_volume(wav, audio_norm_target_dBFS, increase_only=True)
        self.encoder = VoiceEncoder(str(device), verbose=False)

    def __call__(self, wav16k):
        wav = self.normalise(drop_pauses(np.asarray(wav16k, dtype=np.float32)))
        return self.encoder.embed_utterance(wav).astype(np.float32)


class Dnsmos:
    """16 kHz wave -> (overall MOS, P.808 MOS), each about 1 (bad) to 5 (excellent). speechmos scores
    9.01 s windows at a 1 s hop (9 windows per 9 s of audio); here each window starts where the last
    ended (the final one ends with the audio), 9 times less work for the same kind of average.
    Shorter audio is repeated to one window, as speechmos does."""

    def __init__(self):
        from speechmos import dnsmos

        self.dnsmos = dnsmos
        self.window = int(round(dnsmos.INPUT_LENGTH * EXTRACT_RATE))

    def __call__(self, wav16k):
        wav = np.clip(np.asarray(wav16k, dtype=np.float32), -1.0, 1.0)
        if wav.size < self.window:
            wav = np.resize(wav, self.window)  # repeated end to end
        starts = list(range(0, wav.size - self.window + 1, self.window))
        if starts[-1] + self.window < wav.size:
            starts.append(wav.size - self.window)
        scores = [self.dnsmos.run(wav[s:s + self.window], EXTRACT_RATE) for s in starts]
        return (float(np.mean([x["ovrl_mos"] for x in scores])), float(np.mean([x["p808_mos"] for x in scores])))
