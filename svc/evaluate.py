"""svc_eval.py: every input converted with every model and setting, each output measured; each input's
features and reference measures are extracted once. What each figure means: svc.eval_report.METRICS."""
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from common.audio import EXTRACT_RATE, check_output, load_audio, resample, save_audio
from common.batch import BatchReport
from common.config import load_config
from common.loudness import integrated_loudness
from common.metrics import MetricError, check_measurable, cosine, frame_cosine, pitch_agreement
from svc.convert import Features, SvcConverter
from svc.conversion_run import list_inputs
from svc.eval_judges import Dnsmos, Ge2eEncoder, wanted
from svc.feature_files import load_speaker
from svc.retrieval import RetrievalSettings, load_retrieval, singer_from_speaker_file
from svc.settings import ConversionSettings

TARGET_FILES = 20  # target-singer files averaged into the GE2E target vector


@dataclass(frozen=True)
class Setting:
    shift: float = 0.0            # semitones
    retrieval_ratio: float = 0.0  # 0: no retrieval

    @property
    def label(self):
        return f"shift{self.shift:+g}_ret{self.retrieval_ratio:g}"


@dataclass
class EvalOptions:
    settings: list = field(default_factory=lambda: [Setting()])
    # extractors, speaker encoder, device, seed, noise, precision; retrieval: mode, k, index paths (the
    # ratios come from settings)
    conversion: ConversionSettings = field(default_factory=lambda: ConversionSettings(seed=0))
    target_waves: list = field(default_factory=list)  # target singer's audio for the GE2E target vector
    ge2e: str = "auto"            # auto (when resemblyzer is installed), on, off
    dnsmos: str = "auto"          # auto (when speechmos is installed), on, off
    keep_audio: bool = False      # also write each output to <out>/audio/<model>/<setting>/


@dataclass
class Source:
    """One input: what the models get, and what their outputs are measured against."""
    path: str
    wav16k: np.ndarray
    ppg: Optional[np.ndarray]  # [N, ppg_dim] 50 Hz, as the models get it (None: source_audio(content=False))
    vec: Optional[np.ndarray]  # [N, vec_dim] 50 Hz
    f0: Optional[np.ndarray]   # [M] 100 Hz, conversion track (bridged, no zeros)
    voiced: np.ndarray     # [M'] bool, frames the source sings
    clean_ppg: np.ndarray  # [N, ppg_dim] without the Whisper dither, for the words metric
    spk: np.ndarray        # our d-vector of the source singer
    ge2e: Optional[np.ndarray]
    lufs: float


class Measurer:
    """The extractors and judges, loaded once."""

    def __init__(self, options, whisper=None, hubert=None, pitch=None):
        """`whisper`, `hubert`, `pitch`: extractors already loaded (the web app's), used as they are."""
        from hubert.units import HubertSoft
        from pitch.extractor import PitchExtractor
        from speaker.encoder import SpeakerEncoder
        from whisper.ppg import WhisperPPG

        s = options.conversion
        self.whisper = whisper or WhisperPPG(s.whisper_checkpoint, s.device, noise=not s.no_noise)
        self.hubert = hubert or HubertSoft(s.hubert_checkpoint, device=s.device)
        self.pitch = pitch or PitchExtractor(s.pitch_method, s.crepe_model, s.device, weights=s.pitch_weights)
        self.speaker = SpeakerEncoder(s.speaker_checkpoint, device=s.device)
        self.ge2e = Ge2eEncoder(self.speaker.device) if wanted(options.ge2e, "resemblyzer", "--ge2e") else None
        self.dnsmos = Dnsmos() if wanted(options.dnsmos, "speechmos", "--dnsmos") else None

    def clean_ppg(self, wav16k):
        noise, self.whisper.noise = self.whisper.noise, False
        try:
            return self.whisper(wav16k)
        finally:
            self.whisper.noise = noise

    def source_audio(self, path, wav16k, seed=0, content=True):
        """Source of 16 kHz audio already loaded (`path` names it in messages). content=False: only
        what output() compares against (the web app converted with features it already has), so
        ppg, vec and f0 stay None."""
        check_measurable(wav16k, EXTRACT_RATE, path)
        voiced = self.pitch.training(wav16k) > 0
        if not voiced.any():
            raise MetricError(f"{path}: no voiced frame found: it holds no singing to convert and measure.")
        ppg = vec = f0 = None
        if content:
            torch.manual_seed(seed)  # the Whisper dither, so that a run repeats
            ppg, vec, f0 = self.whisper(wav16k), self.hubert(wav16k), self.pitch.conversion(wav16k)
        clean = ppg if content and not self.whisper.noise else self.clean_ppg(wav16k)
        return Source(path, wav16k, ppg, vec, f0, voiced, clean,
                      self.speaker(wav16k), None if self.ge2e is None else self.ge2e(wav16k),
                      integrated_loudness(wav16k, EXTRACT_RATE))

    def target_ge2e(self, paths):
        """Mean GE2E embedding of the target singer's files (None without the judge or files)."""
        if self.ge2e is None or not paths:
            return None
        return np.mean([self.ge2e(load_audio(p, EXTRACT_RATE)) for p in paths], axis=0)

    def output(self, source, asked_f0, wav, rate, target_spk, target_ge2e):
        """{metric: value} of one converted waveform; a figure that cannot be made is nan."""
        out16k = resample(wav, rate, EXTRACT_RATE)
        row = {}
        self.why = {}  # metric -> why it is nan (the web app shows it beside "n/a")

        def measure(keys, fn):
            try:
                values = fn()
            except ValueError as err:  # MetricError, AudioError: a silent or broken output
                values = [float("nan")] * len(keys)
                self.why.update(dict.fromkeys(keys, str(err)))
            row.update(zip(keys, values))

        def pitch():
            score = pitch_agreement(self.pitch.training(out16k), asked_f0, asked_voiced=source.voiced)
            return (score.median_cents, score.mean_cents, score.gross_rate, score.voicing_disagreement,
                    score.f0_corr, score.f0_rmse)

        measure(["pitch_median_cents", "pitch_mean_cents", "pitch_gross", "voicing_disagreement", "f0_corr",
                 "f0_rmse"], pitch)
        measure(["spk_sim", "spk_leak"], lambda: self._similarity(self.speaker(out16k), target_spk, source.spk))
        if self.ge2e is not None:
            measure(["ge2e_sim", "ge2e_leak"], lambda: self._similarity(self.ge2e(out16k), target_ge2e, source.ge2e))
        measure(["ppg_cos"], lambda: [frame_cosine(source.clean_ppg, self.clean_ppg(out16k))])
        if self.dnsmos is not None:
            measure(["dnsmos_ovrl", "dnsmos_p808"], lambda: self.dnsmos(out16k))
        measure(["lufs_out"], lambda: [integrated_loudness(out16k, EXTRACT_RATE)])
        row["lufs_src"] = source.lufs
        return row

    @staticmethod
    def _similarity(vector, target, source):
        return [float("nan") if target is None else cosine(vector, target), cosine(vector, source)]


def default_target_waves(spk_path, data_root="data_svc"):
    """The target singer's prepared 16 kHz files (`<data_root>/waves-16k/<singer>/`), when present."""
    folder = os.path.join(data_root, "waves-16k", singer_from_speaker_file(spk_path))
    return list_inputs([folder])[:TARGET_FILES] if os.path.isdir(folder) else []


@dataclass
class EvalResult:
    rows: list          # one dict per output: model, setting, shift, retrieval_ratio, input, seconds, metrics
    report: BatchReport  # inputs that could not be measured
    target_files: list


def evaluate(config, models, spk, waves, out_dir, options):
    """Convert and measure; returns EvalResult. Outputs go to `out_dir`/audio only with keep_audio."""
    for model in models:  # fail before the long feature pass, not after it
        if not os.path.isfile(model):
            raise FileNotFoundError(f"{model}: model not found. Give exported models (.pth) or training "
                                    f"checkpoints (chkpt/<name>/<name>_<epoch>.pt).")
    hp = load_config(config)
    target = load_speaker(spk, hp.vits.spk_dim)
    inputs = list_inputs(waves)
    conversion = options.conversion
    retrieval_settings = conversion.retrieval or RetrievalSettings()
    ratios = sorted({s.retrieval_ratio for s in options.settings if s.retrieval_ratio > 0})
    retrieval = load_retrieval(retrieval_settings, spk, hp) if ratios else None
    measurer = Measurer(options)
    target_files = (list_inputs(options.target_waves)[:TARGET_FILES] if options.target_waves
                    else default_target_waves(spk, retrieval_settings.data_root))
    target_ge2e = measurer.target_ge2e(target_files)

    report, sources = BatchReport("svc evaluation inputs"), []
    for path in tqdm(inputs, desc="features", unit="file"):
        try:
            sources.append(measurer.source_audio(path, load_audio(path, EXTRACT_RATE), conversion.seed or 0))
        except ValueError as err:
            report.fail(path, err)
    if not sources:
        raise ValueError(f"none of the inputs could be measured:\n{report.summary()}")

    # the neighbour search depends on the source and the ratio only: once here, not per model and shift
    contents = {}
    for ratio in ratios:
        retrieval.ratio = ratio
        for i, source in enumerate(sources):
            contents[ratio, i] = retrieval(source.ppg, source.vec)

    names = [os.path.basename(os.fspath(m)) for m in models]  # labels: file names, paths where names collide
    labels = [os.fspath(m) if names.count(n) > 1 else n for m, n in zip(models, names)]
    rows = []
    steps = tqdm(total=len(models) * len(options.settings) * len(sources), desc="convert+measure",
                 unit="output")
    for model, label in zip(models, labels):
        converter = SvcConverter(hp, model, replace(conversion, spk=str(spk), retrieval=None, progress=False))
        for setting in options.settings:
            converter.settings = replace(converter.settings, shift=setting.shift)
            for i, source in enumerate(sources):
                ppg, vec = contents.get((setting.retrieval_ratio, i), (source.ppg, source.vec))
                wav = converter.convert(target, source.wav16k, Features(ppg, vec, source.f0))
                check_output(wav, f"{label} ({setting.label}) on {source.path}", source.wav16k)  # never measure NaN
                if options.keep_audio:
                    stem = os.path.splitext(os.path.basename(source.path))[0]
                    save_audio(os.path.join(out_dir, "audio", label, setting.label, stem + ".wav"), wav, converter.rate,
                               source=source.wav16k)
                row = {"model": label, "setting": setting.label, "shift": setting.shift,
                       "retrieval_ratio": setting.retrieval_ratio, "input": source.path,
                       "seconds": round(len(source.wav16k) / EXTRACT_RATE, 2)}
                row.update(measurer.output(source, converter.last.f0, wav, converter.rate, target, target_ge2e))
                rows.append(row)
                steps.update()
        del converter
    steps.close()
    return EvalResult(rows, report, target_files)


def run_eval(args):
    """svc_eval.py: evaluate, write results.csv / summary.json / summary.png, print the table."""
    from svc.eval_report import write_reports

    retrieval = RetrievalSettings(mode=args.retrieval_mode, k=args.n_retrieval_vectors,
                                  hubert_path=args.hubert_index_path, whisper_path=args.whisper_index_path,
                                  singer=args.retrieval_singer, data_root=args.data_svc,
                                  backend=args.retrieval_backend)
    conversion = ConversionSettings(
        pitch_method=args.pitch_method, crepe_model=args.crepe_model, whisper_checkpoint=args.whisper_checkpoint,
        hubert_checkpoint=args.hubert_checkpoint, speaker_checkpoint=args.speaker_checkpoint,
        retrieval=retrieval, device=args.device, precision=args.precision, seed=args.seed,
        no_noise=args.no_noise)
    settings = [Setting(shift, ratio) for ratio in args.retrieval_ratio for shift in args.shift]
    options = EvalOptions(settings, conversion, args.target_wave or [], args.ge2e, args.dnsmos,
                          args.keep_audio)
    result = evaluate(args.config, args.model, args.spk, args.wave, args.out, options)
    _, table = write_reports(args.out, result)
    print(table)
    for path, reason in result.report.failed:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(f"{len(result.rows)} outputs measured: {os.path.join(args.out, 'results.csv')}, summary.json, summary.png")
    return 0
