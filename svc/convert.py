"""Singing voice conversion: audio (or its features) + a singer vector -> 32 kHz audio. `SvcConverter`
loads the model once and converts any number of inputs: gather() the features (given or extracted),
prepare() them (retrieval on the 50 Hz content, then alignment to 100 Hz, shift, speaker track), then
convert() runs the NSF source once and the model in crossfaded chunks."""
import contextlib
import math
import sys
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import torch

from common.audio import EXTRACT_RATE
from common.device import pick_device
from common.extractor import cpu_has_bf16
from common.loudness import LoudnessError, follow_envelope
from common.runtime import map_single_threaded
from svc.chunking import Crossfade
from svc.feature_files import check_content, check_f0, check_speaker, line_up
from svc.model_files import load_svc_model
from svc.progress import LiveBar, Step
from svc.protect import PROTECT_OFF, protected_retrieval
from svc.retrieval import load_retrieval
from svc.timbre_curves import SpeakerMix

AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
# the shortest piece an out-of-memory retry goes down to, in seconds
MIN_CHUNK_SECONDS = 2.0
FEATURES = ("f0", "ppg", "vec")  # in the order they are extracted one after another


@dataclass
class Features:
    """Content and pitch of one input: given (files, the web app's cache) or extracted."""
    ppg: Optional[np.ndarray] = None     # [N, ppg_dim] 50 Hz
    vec: Optional[np.ndarray] = None     # [N, vec_dim] 50 Hz
    f0: Optional[np.ndarray] = None      # [M] Hz, 100 Hz
    voiced: Optional[np.ndarray] = None  # [M] bool; given with f0: the pitch is used as it is
    names: dict = field(default_factory=dict)  # feature -> how messages call it (its file, its extractor)
    notes: list = field(default_factory=list)  # lines for the user: pitch repairs


@dataclass
class ConversionInput:
    """Model-rate (100 Hz) inputs of one conversion, already lined up to `frames`."""
    ppg: np.ndarray        # [frames, ppg_dim]
    vec: np.ndarray        # [frames, vec_dim]
    f0: np.ndarray         # [frames] Hz, after the shift
    spk: np.ndarray        # [spk_dim], or [frames, spk_dim] for a timbre that changes over time
    samples: int           # output length at the model's rate
    shift: float = 0.0     # semitones the pitch was moved by
    notes: list = field(default_factory=list)  # lines for the user: pitch repairs, the auto shift


class SvcConverter:
    """Loads the model once; `convert()` turns one input (audio and/or features) into audio."""

    def __init__(self, hp, model_path, settings):
        """`settings` (ConversionSettings) is read at every conversion; those of loading here only."""
        s = self.settings = settings
        self.hp = hp
        self.device = pick_device(s.device)
        if s.precision != "fp32" and self.device.type != "cuda":
            raise ValueError(f"--precision {s.precision} needs a CUDA device (this run uses {self.device}): "
                             f"use --precision fp32 on a CPU.")
        self.hop = int(hp.data.hop_length)
        self.rate = int(hp.data.sampling_rate)
        self.chunk_frames = max(1, int(round(s.chunk_seconds * self.rate / self.hop)))
        self.overlap_frames = max(0, int(round(s.overlap_seconds * self.rate / self.hop)))
        self._whisper = self._hubert = self._pitch = None
        self._ranges = {}
        if s.auto_shift:
            self.singer_range()  # a missing range file fails before the work
        # the indexes before the model, so that a missing index fails fast
        self.retrieval = None
        if s.retrieval is not None:
            with self.step("loading retrieval indexes"):
                self.retrieval = load_retrieval(s.retrieval, s.target, hp)
        with self.step(f"loading model {model_path}"):
            self.model = load_svc_model(hp, model_path, self.device)
        self.last = None  # ConversionInput of the last conversion (its notes, f0, shift)

    def step(self, label):
        return Step(label, self.settings.progress is True)

    # -- extractors, each loaded on first use -------------------------------------------------
    def whisper(self):
        if self._whisper is None:
            from whisper.ppg import WhisperPPG

            s = self.settings
            with self.step(f"loading Whisper {s.whisper_checkpoint}"):
                self._whisper = WhisperPPG(s.whisper_checkpoint, device=str(self.device), noise=not s.no_noise,
                                           bf16=s.fast)
        return self._whisper

    def hubert(self):
        if self._hubert is None:
            from hubert.units import HubertSoft

            s = self.settings
            with self.step(f"loading HuBERT-Soft {s.hubert_checkpoint}"):
                self._hubert = HubertSoft(s.hubert_checkpoint, device=str(self.device), bf16=s.fast)
        return self._hubert

    def pitch(self):
        if self._pitch is None:
            from pitch.extractor import PitchExtractor

            s = self.settings
            with self.step(f"loading the pitch tracker ({self.pitch_method_label()})"):
                self._pitch = PitchExtractor(method=s.pitch_method, model=s.crepe_model, device=str(self.device),
                                             weights=s.pitch_weights)
        return self._pitch

    def load_extractors(self):
        """Load all three now (before a batch: a bad weight file fails once, not once per input)."""
        for load in (self.whisper, self.hubert, self.pitch):
            load()

    def singer_range(self):
        """The singer's F0 range (pitch.singer_range) beside the --spk file, read once, for --auto-shift."""
        from pitch.singer_range import range_path, read_range

        spk = self.settings.spk
        if not spk:
            raise ValueError("--auto-shift reads the singer's F0 range beside --spk (<singer>.f0.json); with "
                             "--spk-mix give the transposition with --shift N.")
        if spk not in self._ranges:
            self._ranges[spk] = read_range(range_path(spk))
        return self._ranges[spk]

    # -- the steps ----------------------------------------------------------------------------
    def source_pitch(self, wav16k=None, f0=None, progress=None):
        """(f0 [M] Hz at 100 Hz, voiced [M] bool, notes): the given f0, or the conversion-mode pitch
        of the audio (progress(done, total) as CREPE goes), through the repair pass as `settings.repair` says."""
        from pitch.repair import describe, repair_f0

        repair = self.settings.repair
        if f0 is None:
            contour = self.pitch().contour(wav16k, "conversion", repair=repair is not False, progress=progress)
            return contour.f0, contour.voiced, [describe(contour.repairs)] if repair is not False else []
        f0 = np.asarray(f0, dtype=np.float32)
        if not repair:
            return f0, f0 > 0, []
        f0, repairs = repair_f0(f0)
        return f0, f0 > 0, [describe(repairs)]

    def extract(self, wav16k, missing):
        """{feature: result} for the `missing` of "f0" (a source_pitch() result), "ppg", "vec".

        One after another, except with --fast on a bf16 CPU and two or more missing: then Whisper's
        and HuBERT's chunks and the pitch run as jobs on one single-threaded worker per core (fewer
        thread barriers beside a busy process, no core idle while one long extractor finishes). In
        fp32 with CREPE full this measured slower idle."""
        s = self.settings
        if len(missing) < 2 or self.device.type != "cpu" or not s.fast or not cpu_has_bf16():
            return {key: self.extract_one(key, wav16k) for key in FEATURES if key in missing}
        models = {key: load() for key, load in (("ppg", self.whisper), ("f0", self.pitch), ("vec", self.hubert))
                  if key in missing}  # each load with its own line, before the bar
        entries, joins = [], {"f0": lambda parts: parts[0]}  # entries: (feature, job) in the workers' order
        with LiveBar(desc="features (side by side)", unit="job", disable=s.progress is not True) as bar:
            for key in ("ppg", "vec"):
                if key in models:
                    chunk_jobs, joins[key] = models[key].chunk_jobs(wav16k)
                    entries += [(key, job) for job in chunk_jobs]
            if "f0" in models:
                # FCPE costs less than one content chunk and goes last; the other methods (CREPE full:
                # more than all the chunks together) go first
                at = len(entries) if s.pitch_method == "fcpe" else 0
                entries.insert(at, ("f0", lambda: self.source_pitch(wav16k)))
            bar.reset(total=len(entries))
            done = map_single_threaded([lambda job=job: (job(), bar.update())[0] for _, job in entries])
        return {key: joins[key]([r for (k, _), r in zip(entries, done) if k == key]) for key in models}

    def extract_one(self, key, wav16k):
        """One feature of `wav16k` with its own bar (chunks, or CREPE batches)."""
        label = {"f0": f"pitch ({self.pitch_method_label()})", "ppg": "PPG (Whisper)", "vec": "units (HuBERT)"}[key]
        model = {"f0": self.pitch, "ppg": self.whisper, "vec": self.hubert}[key]()
        with LiveBar(desc=label, unit="chunk", total=1, disable=self.settings.progress is not True) as bar:
            if key == "f0":
                def advance(done, total):
                    bar.total, bar.n = total, done
                    bar.refresh()
                result = self.source_pitch(wav16k, progress=advance)
                bar.update(bar.total - bar.n)  # a tracker that reports no batches ends at 1/1 too
                return result
            jobs, join = model.chunk_jobs(wav16k)
            bar.reset(total=len(jobs))
            return join([(job(), bar.update())[0] for job in jobs])

    def gather(self, wav16k=None, given=None):
        """Features, all three checked: the given ones (pitch repaired as settings.repair says unless its
        voicing is given too), the missing ones extracted from `wav16k`."""
        s, v = self.settings, self.hp.vits
        given = given or Features()
        f = replace(given, names=dict(given.names), notes=list(given.notes))
        missing = [key for key in FEATURES if getattr(f, key) is None]
        if missing and wav16k is None:
            raise ValueError(f"no audio given to extract {', '.join(missing)} from")
        extracted = self.extract(wav16k, missing) if missing else {}
        made = {"ppg": f"PPG extracted with {s.whisper_checkpoint}", "vec": f"units extracted with "
                f"{s.hubert_checkpoint}", "f0": self.pitch_label()}
        f.names.update({key: made[key] for key in missing})
        if "f0" in extracted or f.voiced is None:
            f.f0, f.voiced, notes = extracted["f0"] if "f0" in extracted else self.source_pitch(f0=f.f0)
            f.notes += notes
        f.ppg = check_content(extracted.get("ppg", f.ppg), "ppg", v.ppg_dim, f.names.get("ppg", "PPG"))
        f.vec = check_content(extracted.get("vec", f.vec), "vec", v.vec_dim, f.names.get("vec", "units"))
        f.f0 = check_f0(f.f0, f.names.get("f0", "pitch"))
        return f

    def pitch_method_label(self):
        s = self.settings
        return s.pitch_method + (f" {s.crepe_model}" if s.pitch_method == "crepe" else "")

    def pitch_label(self):
        return f"pitch extracted with {self.pitch_method_label()}"

    def used(self, features, shift):
        """The line saying what a conversion used: pitch, shift, retrieval."""
        s, pitch = self.settings, features.names.get("f0", "the caller")
        retrieval = "no retrieval"
        if s.retrieval is not None:
            k = f", {s.retrieval.k} neighbours" if s.retrieval.mode == "index" else ""
            protect = f", protect {s.protect:g}" if s.protect < PROTECT_OFF else ""
            retrieval = f"retrieval {s.retrieval.mode} (ratio {s.retrieval.ratio:g}{k}{protect})"
        pitch = pitch if pitch == self.pitch_label() else f"pitch from {pitch}"
        return f"used: {pitch}, shift {shift:+g} semitones, {retrieval}"

    def prepare(self, spk, wav16k=None, features=None):
        """The ConversionInput of gathered Features. `spk`: a vector [spk_dim] or a SpeakerMix."""
        s, f, spk_dim = self.settings, features, self.hp.vits.spk_dim
        if isinstance(spk, SpeakerMix):
            spk.check_width(spk_dim)
        else:
            spk = check_speaker(spk, spk_dim, s.spk or "speaker vector")
        notes, shift, ppg, vec = list(f.notes), s.shift, f.ppg, f.vec
        if s.auto_shift:
            shift, line = auto_shift(f.f0, f.voiced, self.singer_range())
            notes.append(line)
        if self.retrieval is not None:  # on the 50 Hz content: half the searches, same result per frame
            with self.step("retrieval"):
                ppg, vec = protected_retrieval(self.retrieval, ppg, vec, s.protect, wav16k, f.f0)
        notes.append(self.used(f, shift))
        samples = None if wav16k is None else int(round(len(wav16k) * self.rate / EXTRACT_RATE))
        frames = None if samples is None else math.ceil(samples / self.hop)
        lined = line_up({f.names.get("ppg", "PPG"): np.repeat(ppg, 2, axis=0), f.names.get("vec", "units"):
                         np.repeat(vec, 2, axis=0), f.names.get("f0", "pitch"): f.f0}, frames)  # 50 -> 100 Hz
        ppg, vec, f0 = lined.values()
        if isinstance(spk, SpeakerMix):
            spk = spk.frames(len(f0), self.rate / self.hop)
        f0 = (f0.astype(np.float64) * 2.0 ** (float(shift) / 12.0)).astype(np.float32)  # 0 Hz stays unvoiced
        return ConversionInput(ppg, vec, f0, spk, samples or len(f0) * self.hop, shift, notes)

    def convert(self, spk, wav16k=None, given=None):
        """Converted audio, float32 at hp.data.sampling_rate, as long as the input; `given`: Features
        at hand. What the model got, with the notes for the user, is left in `self.last`. Out of GPU
        memory, the song is converted again in pieces half as long (halve_chunks)."""
        mix = self.settings.loudness_mix
        if mix and wav16k is None:
            raise LoudnessError("--loudness-mix follows the source's loudness: it needs the source audio.")
        item = self.last = self.prepare(spk, wav16k, self.gather(wav16k, given))
        with torch.inference_mode():  # the synthesis (the extractors run in their own modes)
            device, hop, seed, precision = self.device, self.hop, self.settings.seed, self.settings.precision
            noise_scale = 0.0 if self.settings.no_noise else 1.0
            autocast = (contextlib.nullcontext() if precision == "fp32" else
                        torch.autocast(device_type="cuda", dtype=AUTOCAST[precision]))
            spk = torch.from_numpy(item.spk)[None].to(device)                  # [1, spk_dim] or [1, T, spk_dim]
            per_frame = spk.dim() == 3
            f0 = torch.from_numpy(item.f0)[None].to(device)                    # [1, T]
            with self.step("NSF source"):
                source = self.model.pitch2source(f0, seed=seed)                # [1, 1, T * hop]
            ppg = torch.from_numpy(item.ppg).to(device)                        # [T, ppg_dim]
            vec = torch.from_numpy(item.vec).to(device)                        # [T, vec_dim]
            while True:
                joined = Crossfade(f0.shape[1], hop, self.chunk_frames, self.overlap_frames,
                                   self.settings.progress)
                try:
                    for start, end in joined:
                        with autocast:
                            audio = self.model.inference(
                                ppg[None, start:end], vec[None, start:end], f0[:, start:end],
                                spk[:, start:end] if per_frame else spk,
                                torch.tensor([end - start], device=device), source[:, :, start * hop:end * hop],
                                seed=None if seed is None else seed + 1 + start,
                                noise_scale=noise_scale)                       # [1, 1, (end - start) * hop]
                        joined.add(audio[0, 0].float().cpu().numpy())
                    break
                except torch.OutOfMemoryError:
                    self.halve_chunks()
            wav = joined.result()[:item.samples]
        if not mix:
            return wav
        with self.step("loudness mix"):
            return follow_envelope(wav, self.rate, wav16k, EXTRACT_RATE, mix)

    def halve_chunks(self):
        """After running out of GPU memory: pieces half as long from now on, or an error below MIN_CHUNK_SECONDS."""
        device, seconds = self.device, self.chunk_frames * self.hop / self.rate
        if seconds / 2 < MIN_CHUNK_SECONDS:
            raise RuntimeError(
                f"out of {device} memory even in {seconds:.1f} s pieces: close other programs "
                f"using the GPU, or convert on the CPU (--device cpu).") from None
        if device.type == "cuda":
            torch.cuda.empty_cache()
        self.chunk_frames //= 2
        self.overlap_frames = min(self.overlap_frames, self.chunk_frames // 4)
        print(f"out of {device} memory in {seconds:.1f} s pieces: converting again in "
              f"{seconds / 2:.1f} s pieces (--chunk-seconds sets the start)", file=sys.stderr)


def auto_shift(f0, voiced, singer_range):
    """(semitones, a line saying why) for --auto-shift: the source's median voiced pitch into the range."""
    from pitch.singer_range import choose_shift, median_voiced

    median = median_voiced(f0, voiced)
    if median is None:
        return 0, "auto-shift: no voiced pitch in the source, shift 0"
    shift = choose_shift(median, singer_range)
    low, high = float(singer_range["low_hz"]), float(singer_range["high_hz"])
    return shift, (f"auto-shift: {shift:+d} semitones (source median {median:.0f} Hz -> "
                   f"{median * 2 ** (shift / 12):.0f} Hz; singer range {low:.0f}-{high:.0f} Hz)")
