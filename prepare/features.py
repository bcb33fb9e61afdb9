"""Steps 2-5: the model features of every 16 kHz wave (pitch, Whisper PPG, HuBERT units, d-vector).

Each step loads its model once (only when some output is missing), runs it in the main process on
the chosen device, and reads the audio (and, for the speaker step, its mel front end) in the
worker processes ahead of the model. Outputs are `.npy`, written atomically.
"""
import os
import sys
import warnings

import numpy as np
from tqdm import tqdm

from common.atomic import save_npy
from common.audio import AudioError, load_audio
from common.checkpoint import CheckpointError
from common.dataset import iter_dataset, output_path
from prepare.jobs import StepError, StepReport, prefetch, remove_temp_files
from prepare.layout import PITCH_SUFFIX, PPG_SUFFIX, SPK_SUFFIX, VEC_SUFFIX, is_wav

SAMPLE_RATE = 16000
MIN_SAMPLES = 320  # one 50 Hz content frame


def load_wav16k(path):
    """Front end of the pitch/PPG/unit steps: the 16 kHz wave itself."""
    with warnings.catch_warnings():  # a fallback reader's warnings: the skip reason says what went wrong
        warnings.simplefilter("ignore")
        wav = load_audio(path, SAMPLE_RATE)
    if len(wav) < MIN_SAMPLES:
        raise AudioError(f"{path}: too short ({len(wav)} samples at 16 kHz; at least {MIN_SAMPLES} needed)")
    return wav


def speaker_front(path):
    """Front end of the speaker step: normalised log-mel frames [T, 80] of the 16 kHz wave."""
    from speaker.audio import melspectrogram

    return melspectrogram(load_wav16k(path))


class FeatureStep:
    """One model step: which inputs, which outputs, how to load the model, how to run it."""

    def __init__(self, title, suffix, load_model, front=load_wav16k, ndim=2):
        self.title = title
        self.suffix = suffix
        self.load_model = load_model  # () -> callable(front output) -> numpy array
        self.front = front  # module-level function (runs in worker processes): wave path -> model input
        self.ndim = ndim

    def run(self, wave_root, out_root, pool=None):
        if not os.path.isdir(wave_root):
            raise StepError(f"{wave_root}: folder of 16 kHz waves not found. Run step 1 first "
                            f"(prepare/preprocess_a.py -s 16000).")
        remove_temp_files(out_root)
        report = StepReport(self.title)
        todo = []
        for speaker, name, path in iter_dataset(wave_root, accept=is_wav):
            out = output_path(out_root, speaker, name, self.suffix)
            if os.path.exists(out):
                report.exists()
            else:
                todo.append((path, out))
        if not todo:
            return report
        model = self._load()
        outs = dict(todo)
        bar = tqdm(total=len(todo), desc=self.title, unit="file", file=sys.stderr, dynamic_ncols=True)
        try:
            for path, ok, value in prefetch(self.front, [p for p, _ in todo], pool):
                bar.update(1)
                if not ok:
                    report.fail(path, value)
                    continue
                try:
                    array = np.asarray(model(value), dtype=np.float32)
                    self._check(array)
                except (KeyboardInterrupt, MemoryError):
                    raise
                except Exception as e:  # one bad clip must not stop the batch
                    report.fail(path, f"{type(e).__name__}: {e}")
                    continue
                save_npy(outs[path], array)
                report.ok()
        finally:
            bar.close()
        return report

    def _load(self):
        try:
            return self.load_model()
        except (CheckpointError, FileNotFoundError, ImportError, RuntimeError, ValueError) as e:
            raise StepError(f"{self.title}: cannot load the model: {e}") from None

    def _check(self, array):
        if array.ndim != self.ndim or array.shape[0] == 0:
            raise ValueError(f"the model returned shape {array.shape}, expected {self.ndim} dimension(s)")
        if not np.all(np.isfinite(array)):
            raise ValueError("the model returned NaN or infinite values")


def pitch_step(method="crepe", model="full", device="auto"):
    def load():
        from pitch.inference import PitchExtractor

        return PitchExtractor(method=method, model=model, device=device).training

    return FeatureStep(f"pitch ({method})", PITCH_SUFFIX, load, ndim=1)


def ppg_step(checkpoint, device="auto", noise=True):
    def load():
        from whisper.inference import WhisperPPG

        return WhisperPPG(checkpoint, device, noise=noise)

    return FeatureStep("whisper ppg", PPG_SUFFIX, load, ndim=2)


def hubert_step(checkpoint, device="auto"):
    def load():
        from hubert.inference import HubertSoft

        return HubertSoft(checkpoint, device)

    return FeatureStep("hubert units", VEC_SUFFIX, load, ndim=2)


def speaker_step(checkpoint, device="auto"):
    def load():
        from speaker.inference import SpeakerEncoder

        return SpeakerEncoder(checkpoint, device).embed_mel

    return FeatureStep("speaker vectors", SPK_SUFFIX, load, front=speaker_front, ndim=1)
