"""Steps 2-5: pitch, Whisper PPG, HuBERT units and d-vector `.npy` of every 16 kHz wave. Each model is
loaded once (only when an output is missing) and runs in the main process; the workers read the audio."""
import os
from concurrent.futures.process import BrokenProcessPool

from common.batch import extract_files
from common.checkpoint import CheckpointError
from common.dataset import iter_dataset, output_path
from common.extractor import load_wav16k
from hubert.units import HubertSoft
from pitch.extractor import DEFAULT_PITCH_METHOD, PitchExtractor  # the default is prepare's too
from prepare.jobs import StepError, StepReport, remove_temp_files
from prepare.layout import PITCH_SUFFIX, PPG_SUFFIX, SPK_SUFFIX, VEC_SUFFIX, is_wav
from speaker.audio import load_mel
from speaker.encoder import SpeakerEncoder
from whisper.ppg import WhisperPPG


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
        pairs = [(path, output_path(out_root, speaker, name, self.suffix))
                 for speaker, name, path in iter_dataset(wave_root, accept=is_wav)]
        try:
            return extract_files(self._load, pairs, StepReport(self.title), self.front, self.ndim, pool=pool)
        except BrokenProcessPool as e:
            raise StepError(f"{self.title}: a worker process died ({e}); rerun with -t 1 to see why") from None

    def _load(self):
        try:
            return self.load_model()
        except (CheckpointError, FileNotFoundError, ImportError, RuntimeError, ValueError) as e:
            raise StepError(f"{self.title}: cannot load the model: {e}") from None


def pitch_step(method=DEFAULT_PITCH_METHOD, model="full", device="auto"):
    return FeatureStep(f"pitch ({method})", PITCH_SUFFIX,
                       lambda: PitchExtractor(method=method, model=model, device=device).training, ndim=1)


def step_from(name, opts):
    """The FeatureStep of step `name` (pitch, ppg, hubert or speaker) set by `opts` (prepare.pipeline.Options)."""
    if name == "pitch":
        return pitch_step(opts.pitch_method, opts.crepe_model, opts.device)
    if name == "ppg":
        return FeatureStep("whisper ppg", PPG_SUFFIX,
                           lambda: WhisperPPG(opts.whisper_checkpoint, opts.device, noise=opts.whisper_noise))
    if name == "hubert":
        return FeatureStep("hubert units", VEC_SUFFIX,
                           lambda: HubertSoft(opts.hubert_checkpoint, opts.device))
    return FeatureStep("speaker vectors", SPK_SUFFIX,
                       lambda: SpeakerEncoder(opts.speaker_checkpoint, opts.device).embed_mel,
                       front=load_mel, ndim=1)
