"""What the page's buttons do, on top of the same library calls as svc_inference.py and svc_eval.py:
one Engine per server keeps the loaded models between requests (shared, so jobs run one at a time)
and each session's features, so "Convert with this pitch" reuses the PPG and units."""
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import List

import numpy as np

from common.audio import EXTRACT_RATE, AudioError, OutputError, check_output, load_audio
from common.config import load_config
from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT
from pitch.extractor import DEFAULT_PITCH_METHOD, METHODS as PITCH_METHODS
from pitch.smoothing import fit_length
from pitch.repair import describe
from svc.convert import Features, SvcConverter
from svc.eval_report import METRICS
from svc.evaluate import EvalOptions, Measurer, default_target_waves, singer_from_speaker_file
from svc.feature_files import LENGTH_TOLERANCE, check_f0, load_speaker
from svc.protect import PROTECT_OFF
from svc.retrieval import RetrievalSettings
from svc.settings import CREPE_MODELS, PRECISIONS, ConversionSettings
from svc.webui.folders import AllowedFolders, is_svc_model
from svc.webui.session import InputAudio

FAST_HELP = "svc_inference.py --fast: FCPE pitch, Whisper and HuBERT in bfloat16 on CPUs that have it"
RETRIEVAL_MODES = ("off", "index", "kmeans")
MODEL_PATTERNS = ("*.pth", "*.pt")
SINGER_PATTERNS = ("*.spk.npy",)
AUDIO_PATTERNS = ("*.wav", "*.flac", "*.ogg", "*.mp3", "*.m4a", "*.aiff")
MAX_MODELS = 2   # converters kept loaded (the least recently used goes first)


def read_upload(data, folder, name, read):
    """`read(path)` of uploaded bytes saved to `folder` first (readers take files); errors name the upload."""
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(name)[1].lower()[:8], dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        return read(tmp)
    except ValueError as err:
        raise ValueError(str(err).replace(tmp, name)) from None
    finally:
        os.remove(tmp)


@dataclass
class WebSettings:
    """Server-wide settings (svc_webui.py's options)."""
    config: str = "configs/base.yaml"
    model_dirs: List[str] = field(default_factory=lambda: [".", "chkpt"])
    singer_dirs: List[str] = field(default_factory=lambda: ["data_svc/singer"])
    audio_dirs: List[str] = field(default_factory=list)
    data_svc: str = "data_svc"            # where retrieval indexes live (indexes/<singer>/)
    device: str = "auto"
    whisper_checkpoint: str = WHISPER_CKPT
    hubert_checkpoint: str = HUBERT_CKPT
    chunk_seconds: float = 25.0
    overlap_seconds: float = 1.0
    max_upload_mb: float = 200.0
    speaker_checkpoint: str = SPEAKER_CKPT  # the evaluation panel's speaker encoder
    eval_judges: str = "auto"             # GE2E and DNSMOS in the evaluation panel: auto (when installed), on, off


@dataclass
class ConvertRequest(ConversionSettings):
    """The page's conversion form: the model beside the conversion settings (`spk` is the singer)."""
    model: str = ""

    @classmethod
    def from_json(cls, body):
        def number(key, kind, default):
            value = body.get(key, default)
            try:
                number = kind(default if value in (None, "") else value)
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{key}: {value!r} is not a number.") from None
            if kind is float and not np.isfinite(number):
                raise ValueError(f"{key}: {value!r} is not a finite number.")
            return number

        mode = str(body.get("retrieval") or "off")
        if mode not in RETRIEVAL_MODES:
            raise ValueError(f"retrieval {mode!r}: choose one of {', '.join(RETRIEVAL_MODES)}.")
        retrieval = None
        if mode != "off":  # k-means: the nearest centre
            retrieval = RetrievalSettings(mode, number("retrieval_ratio", float, 0.5),
                                          number("retrieval_k", int, 3) if mode == "index" else 1)
        return cls(model=str(body.get("model") or ""), spk=str(body.get("singer") or ""),
                   shift=number("shift", float, 0.0), pitch_method=str(body.get("pitch_method") or DEFAULT_PITCH_METHOD),
                   crepe_model=str(body.get("crepe_model") or "full"), retrieval=retrieval,
                   seed=number("seed", int, 0), no_noise=bool(body.get("no_noise", False)),
                   precision=str(body.get("precision") or "fp32"), protect=number("protect", float, PROTECT_OFF),
                   loudness_mix=number("loudness_mix", float, 0.0), repair=bool(body.get("repair", True)),
                   auto_shift=bool(body.get("auto_shift", False)), fast=bool(body.get("fast", False)))


class Engine:
    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.hp = load_config(settings.config)
        self.models = AllowedFolders(settings.model_dirs, "model")
        self.singers = AllowedFolders(settings.singer_dirs + settings.audio_dirs + settings.model_dirs, "singer")
        self.audio = AllowedFolders(settings.audio_dirs, "audio")
        self._converters = OrderedDict()
        self._pitch = {}
        self._content = {}  # Whisper (per dither setting) and HuBERT, shared by every model
        self._measurer, self._measurer_key = None, None
        self._targets = {}  # (singer, data_svc) -> GE2E vector of the singer's own audio, made once

    # -- choices for the page ---------------------------------------------------------------
    def options(self):
        s = self.settings

        def choices(folders, patterns, keep=None):
            return [{"path": p, "label": folders.label(p)} for p in folders.list(patterns, keep=keep)]

        return {"models": choices(self.models, MODEL_PATTERNS, is_svc_model), "singers": choices(self.singers, SINGER_PATTERNS),
                "audio": self.audio.list(AUDIO_PATTERNS), "pitch_methods": list(PITCH_METHODS), "pitch_method": DEFAULT_PITCH_METHOD,
                "crepe_models": list(CREPE_MODELS), "retrieval_modes": list(RETRIEVAL_MODES),
                "precisions": list(PRECISIONS), "fast": FAST_HELP,
                "config": s.config, "folders": {"models": self.models.describe(), "singers": self.singers.describe(),
                                                "audio": self.audio.describe()},
                "max_upload_mb": s.max_upload_mb, "hop_seconds": 0.01}

    # -- input audio ------------------------------------------------------------------------
    def open_path(self, path):
        real = self.audio.check(path, "--audio-dir")
        return self.input_audio(os.path.basename(real), load_audio(real, EXTRACT_RATE))

    @staticmethod
    def input_audio(name, wav16k):
        if len(wav16k) < EXTRACT_RATE // 10:
            raise AudioError(f"{name}: {len(wav16k) / EXTRACT_RATE:.2f} s is too short to convert; give at least "
                             f"0.1 s.")
        return InputAudio(name, wav16k)

    def open_upload(self, name, data, folder):
        """Decode uploaded bytes (saved to `folder` first: the decoders read files); errors name the upload."""
        if not data:
            raise AudioError(f"{name}: the upload is empty. Choose the file again.")
        if len(data) > self.settings.max_upload_mb * 2 ** 20:
            raise AudioError(f"{name}: {len(data) / 2 ** 20:.0f} MB is over the {self.settings.max_upload_mb:g} MB "
                             f"upload limit. Give its path instead (svc_webui.py --audio-dir), or raise "
                             f"--max-upload-mb.")
        wav = read_upload(data, folder, name, lambda path: load_audio(path, EXTRACT_RATE))
        return self.input_audio(name, wav)

    # -- models and extractors, loaded once -------------------------------------------------
    def converter(self, req):
        """(SvcConverter set to this request, speaker vector); loaded again only when its key changes."""
        s = self.settings
        model = self.models.check(req.model, "--model-dir")
        singer = self.singers.check(req.spk, "--singer-dir")
        retrieval = req.retrieval and replace(req.retrieval, data_root=s.data_svc)
        settings = replace(req, spk=singer, retrieval=retrieval, whisper_checkpoint=s.whisper_checkpoint,
                           hubert_checkpoint=s.hubert_checkpoint, device=s.device, chunk_seconds=s.chunk_seconds,
                           overlap_seconds=s.overlap_seconds, progress=False)
        key = (model, req.no_noise, req.precision, retrieval and (retrieval.mode, singer))
        converter = self._converters.pop(key, None) or SvcConverter(self.hp, model, settings)
        converter.settings = settings  # ratio, k, protect, shift, ... per request: no reload for a slider
        if retrieval is not None:
            converter.retrieval.ratio, converter.retrieval.k = retrieval.ratio, retrieval.k
        self._converters[key] = converter
        while len(self._converters) > MAX_MODELS:
            self._converters.popitem(last=False)
        return converter, load_speaker(singer, self.hp.vits.spk_dim)

    def whisper(self, no_noise, bf16=False):
        key = ("whisper", bool(no_noise), bool(bf16))
        if key not in self._content:
            from whisper.ppg import WhisperPPG

            self._content[key] = WhisperPPG(self.settings.whisper_checkpoint, device=self.settings.device,
                                            noise=not no_noise, bf16=bf16)
        return self._content[key]

    def hubert(self, bf16=False):
        key = ("hubert", bool(bf16))
        if key not in self._content:
            from hubert.units import HubertSoft

            self._content[key] = HubertSoft(self.settings.hubert_checkpoint, device=self.settings.device, bf16=bf16)
        return self._content[key]

    def pitch_extractor(self, method, crepe_model):
        key = (method, crepe_model if method == "crepe" else None)
        if key not in self._pitch:
            from pitch.extractor import PitchExtractor

            self._pitch[key] = PitchExtractor(method=method, model=crepe_model, device=self.settings.device)
        return self._pitch[key]

    # -- the jobs ---------------------------------------------------------------------------
    def pitch(self, session, job, method, crepe_model, repair):
        """The input's PitchContour (f0 [frames] Hz, voiced, repairs), cached per input, method and repair."""
        audio = session.require_input()
        key = ("f0", audio.key, method, crepe_model if method == "crepe" else None, repair)
        if key not in session.features:
            job.update(f"extracting pitch ({method}{' ' + crepe_model if method == 'crepe' else ''})")
            extractor = self.pitch_extractor(method, crepe_model)
            session.features[key] = extractor.contour(audio.wav16k, "conversion", repair=repair)
            session.extractions["pitch"] += 1
        return session.features[key]

    def content(self, session, job, no_noise, fast=False):
        """(PPG, units) at 50 Hz, cached per input, dither and --fast setting (extractors shared by all models)."""
        audio = session.require_input()
        key = ("content", audio.key, no_noise, fast)
        if key not in session.features:
            job.update("extracting PPG (Whisper)")
            ppg = self.whisper(no_noise, fast)(audio.wav16k)
            job.update("extracting units (HuBERT)")
            vec = self.hubert(fast)(audio.wav16k)
            session.features[key] = (ppg, vec)
            session.extractions["content"] += 1
        return session.features[key]

    def edited_pitch(self, f0, frames):
        """An edited pitch curve from the page (or a CSV) fitted to the input's frames."""
        f0 = check_f0(np.asarray(f0, dtype=np.float64), "edited pitch")
        if abs(len(f0) - frames) > LENGTH_TOLERANCE:
            raise ValueError(f"the pitch curve has {len(f0)} frames (10 ms each) but the input has {frames}: it "
                             f"belongs to another audio file. Extract the pitch of this input again.")
        return fit_length(f0, frames).astype(np.float32)

    def convert(self, session, job, req, f0=None):
        """Convert the session's input; `f0` (Hz per 10 ms frame) replaces the extracted pitch."""
        audio = session.require_input()
        job.update("loading model", 0.01)
        converter, speaker = self.converter(req)
        contour = None  # the extracted pitch: when no edited curve is given, or for the voicing of auto-shift
        if f0 is None or req.auto_shift:
            contour = self.pitch(session, job, req.pitch_method, req.crepe_model, req.repair)
        ppg, vec = self.content(session, job, req.no_noise, req.fast)
        given = Features(ppg, vec, contour.f0 if f0 is None else f0, contour.voiced if contour else f0 > 0,
                         names={"f0": converter.pitch_label() if f0 is None else "the edited curve"},
                         notes=[describe(contour.repairs)] if f0 is None and req.repair else [])
        job.update("preparing", 0.05)
        converter.settings.progress = lambda done, total: job.update(f"converting (chunk {done + 1} of {total})",
                                                                     0.05 + 0.95 * done / total)
        wav = converter.convert(speaker, audio.wav16k, given)
        try:  # NaN/inf, or silence from sound: an error, never a "done" with a quiet WAV
            check_output(wav, audio.name, audio.wav16k)
        except OutputError:
            session.result = None  # nothing to play or download
            raise
        item = converter.last
        session.result = {"wav": wav, "rate": converter.rate, "f0": item.f0, "edited": f0 is not None,
                          "input": audio.name, "request": req, "metrics": None, "notes": item.notes,
                          "shift": item.shift}
        return session.result

    # -- the evaluation panel: svc_eval.py's measures, with the conversion's extractors ----------
    def evaluate(self, session, job):
        """Metrics of the session's last conversion, its pitch compared with the edited and shifted curve:
        [{key, short, better, help, value, why}] (svc.eval_report)."""
        result = session.require_result()
        audio, req = session.require_input(), result["request"]
        job.update("loading the judges", 0.05)
        whisper, hubert = self.whisper(req.no_noise), self.hubert()
        pitch = self.pitch_extractor(req.pitch_method, req.crepe_model)
        if (id(whisper), id(hubert), id(pitch)) != self._measurer_key:  # made again only when they change
            s = self.settings
            conversion = replace(req, device=s.device, speaker_checkpoint=s.speaker_checkpoint)
            options = EvalOptions(conversion=conversion, ge2e=s.eval_judges, dnsmos=s.eval_judges)
            self._measurer = Measurer(options, whisper, hubert, pitch)
            self._measurer_key = (id(whisper), id(hubert), id(pitch))
            self._targets.clear()
        measurer = self._measurer
        singer = self.singers.check(req.spk, "--singer-dir")
        key = ("eval source", audio.key, id(measurer))
        if key not in session.features:
            job.update("measuring the source (voicing, timbre, words, loudness)", 0.2)
            session.features[key] = measurer.source_audio(audio.name, audio.wav16k, content=False)
        job.update("measuring the conversion", 0.6)
        target_key = (singer, self.settings.data_svc)
        if target_key not in self._targets:
            self._targets[target_key] = measurer.target_ge2e(default_target_waves(*target_key))
        target_ge2e = self._targets[target_key]
        row = measurer.output(session.features[key], result["f0"], result["wav"], result["rate"],
                              load_speaker(singer, self.hp.vits.spk_dim), target_ge2e)
        why = dict(measurer.why)
        if target_ge2e is None:
            folder = os.path.join(self.settings.data_svc, "waves-16k", singer_from_speaker_file(singer))
            why.setdefault("ge2e_sim", f"no recordings of this singer in {folder} to compare with (the GE2E "
                                       f"judge's target)")
        result["metrics"] = [{"key": m.key, "short": m.short, "better": m.better, "help": m.help,
                              "value": float(row[m.key]) if np.isfinite(row[m.key]) else None,  # nan -> null
                              "why": None if np.isfinite(row[m.key]) else why_not(m.key, row[m.key], why)}
                             for m in METRICS if m.key in row]
        return result["metrics"]


def why_not(key, value, why):
    """The reason a measure has no value, in words."""
    if key in why:
        return why[key]
    if key.startswith("lufs") and value == float("-inf"):
        return "the audio is silent (no loudness to measure)"
    return "the measure could not be made on this audio"
