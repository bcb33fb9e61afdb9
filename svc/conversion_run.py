"""Conversion runs: one file in, one file out; many files into one folder; svc_inference.py's options.

A batch takes files and/or folders (every audio file directly inside, sorted by name). Model,
extractors and retrieval indexes load once; an input that cannot be read or converted is skipped
and reported. Each output is `<out_dir>/<input stem>_svc.wav` (the suffix keeps an input from
being overwritten when the output folder is the input folder), written atomically.
"""
import os
import sys

from tqdm import tqdm

from common.atomic import is_temp_file
from common.audio import AUDIO_EXTENSIONS, EXTRACT_RATE, is_audio_file, load_audio, save_audio
from common.batch import BatchReport
from common.config import load_config
from common.runtime import tune_cpu_runtime
from svc.convert import Controls, ExtractorSettings, SvcConverter
from svc.feature_files import load_ppg, load_speaker, load_vec
from svc.retrieval import RetrievalSettings, load_retrieval
from svc.timbre_curves import SpeakerMix, is_mix_file

OUTPUT_SUFFIX = "_svc.wav"
DEFAULT_OUT_FILE = "svc_out.wav"
DEFAULT_OUT_DIR = "svc_out"
INDEX_FLAGS = ("hubert_index_path", "whisper_index_path", "retrieval_ratio", "n_retrieval_vectors")
CODEBOOK_FLAGS = ("hubert_codebook_path", "whisper_codebook_path")


def read_pitch_csv(path):
    """F0 [N] Hz at 100 Hz from a pitch CSV (pitch/inference.py output, Excel edits allowed)."""
    from pitch.csv_io import read_f0_csv

    return read_f0_csv(path)


def open_converter(hp, model, spk, device="auto", extractors=None, no_noise=False, chunk_seconds=25.0,
                   overlap_seconds=1.0, progress=True, retrieval=None, precision="fp32", controls=None):
    """(SvcConverter, speaker): model, speaker file and retrieval indexes loaded once.

    `spk` is a speaker vector (.npy) or a mix file (.yaml/.csv: weights over time, an
    svc.timbre_curves.SpeakerMix). `retrieval` is an svc.retrieval.RetrievalSettings (None: no
    retrieval); the indexes are loaded before the model, so a missing index fails fast.
    `controls` (svc.convert.Controls): protect and loudness mix.
    """
    extractors = extractors or ExtractorSettings()
    controls = controls or Controls()
    if no_noise:
        extractors.whisper_noise = False
    if is_mix_file(spk):
        speaker = SpeakerMix(spk)
        speaker.check_width(hp.vits.spk_dim)
    else:
        speaker = load_speaker(spk, hp.vits.spk_dim)
    content_retrieval = None
    if retrieval is not None:
        content_retrieval = load_retrieval(retrieval, spk, hp)
    converter = SvcConverter(hp, model, device=device, extractors=extractors, chunk_seconds=chunk_seconds,
                             overlap_seconds=overlap_seconds, noise_scale=0.0 if no_noise else 1.0,
                             progress=progress, retrieval=content_retrieval, precision=precision,
                             protect=controls.protect, loudness_mix=controls.loudness_mix)
    return converter, speaker


def convert_file(config, model, spk, wave, out=None, ppg=None, vec=None, pit=None, shift=0.0, device="auto",
                 extractors=None, seed=None, no_noise=False, chunk_seconds=25.0, overlap_seconds=1.0, progress=True,
                 retrieval=None, precision="fp32", controls=None, singer_range=None):
    """Convert `wave` to the singer `spk` (.spk.npy) with `model`; writes `out` (16-bit WAV) when given.

    Features given as files (ppg/vec .npy at 50 Hz, pit CSV at 100 Hz) are used as they are;
    the others are extracted from the audio. `no_noise` turns off the Whisper dither and samples
    the prior at its mean; with `seed` the output is then repeatable. `retrieval`
    (svc.retrieval.RetrievalSettings) pulls the content toward the singer's training
    frames; `controls` (svc.convert.Controls) sets protect and loudness mix. `spk` may be a mix
    file (.yaml/.csv) of speaker weights over time. `shift` None with `singer_range`
    (pitch.singer_range.read_range): the automatic shift. Notes (pitch repairs, the chosen shift)
    are printed to stderr. Returns the float32 waveform.
    """
    hp = load_config(config)
    wav16k = load_audio(wave, EXTRACT_RATE)
    v = hp.vits
    ppg_array = load_ppg(ppg, v.ppg_dim) if ppg else None
    vec_array = load_vec(vec, v.vec_dim) if vec else None
    f0 = read_pitch_csv(pit) if pit else None
    converter, speaker = open_converter(hp, model, spk, device, extractors, no_noise, chunk_seconds, overlap_seconds,
                                        progress, retrieval, precision, controls)
    names = {"spk": str(spk), "ppg": str(ppg) if ppg else None, "vec": str(vec) if vec else None,
             "f0": str(pit) if pit else None}
    wav = converter.convert(speaker, wav16k, ppg_array, vec_array, f0, shift=shift, seed=seed,
                            names={k: n for k, n in names.items() if n}, singer_range=singer_range)
    print_notes(wave, converter.notes)
    if out:
        save_audio(out, wav, converter.rate)
    return wav


def print_notes(wave, notes):
    for line in notes:
        print(f"{wave}: {line}", file=sys.stderr, flush=True)


def audio_files_in(folder):
    """Audio files directly inside `folder`, sorted by name."""
    names = sorted(n for n in os.listdir(folder)
                   if is_audio_file(n) and not is_temp_file(n) and os.path.isfile(os.path.join(folder, n)))
    if not names:
        raise ValueError(f"{folder}: no audio files in this folder (looked for {', '.join(AUDIO_EXTENSIONS)}).")
    return [os.path.join(folder, n) for n in names]


def is_batch(waves):
    """Several inputs, or a folder: the output is a folder."""
    return len(waves) > 1 or any(os.path.isdir(w) for w in waves)


def list_inputs(waves):
    """Files of `waves` (files kept as given, folders expanded), without repeats, in order."""
    found = []
    for wave in waves:
        wave = os.fspath(wave)
        found.extend(audio_files_in(wave) if os.path.isdir(wave) else [wave])
    seen, unique = set(), []
    for path in found:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def output_path(out_dir, wave):
    stem = os.path.splitext(os.path.basename(os.fspath(wave)))[0]
    return os.path.join(os.fspath(out_dir), stem + OUTPUT_SUFFIX)


def plan_outputs(inputs, out_dir):
    """{input: output}; two inputs that would write the same output are an error naming both."""
    plan, owner = {}, {}
    for wave in inputs:
        out = output_path(out_dir, wave)
        if out in owner:
            raise ValueError(f"{owner[out]} and {wave} would both be written to {out}: rename one of them, "
                             f"or convert them in separate runs.")
        owner[out] = wave
        plan[wave] = out
    return plan


def check_out_dir(out_dir):
    out_dir = os.fspath(out_dir)
    if os.path.isfile(out_dir):
        raise ValueError(f"--out {out_dir} is a file, but several inputs need an output folder: give a folder.")
    if not os.path.isdir(out_dir) and is_audio_file(out_dir):
        raise ValueError(f"--out {out_dir} looks like an audio file, but several inputs need an output folder "
                         f"(outputs are named <input name>{OUTPUT_SUFFIX}): give a folder, e.g. --out svc_out.")


def convert_files(config, model, spk, waves, out_dir, shift=0.0, device="auto", extractors=None, seed=None,
                  no_noise=False, chunk_seconds=25.0, overlap_seconds=1.0, retrieval=None, progress=True,
                  precision="fp32", controls=None, singer_range=None):
    """Convert every input of `waves` (files and/or folders) into `out_dir`. Returns a BatchReport.

    Settings are those of convert_file. An input that cannot be read or
    converted is recorded in the report with its reason and skipped.
    """
    check_out_dir(out_dir)
    plan = plan_outputs(list_inputs(waves), out_dir)
    hp = load_config(config)
    converter, speaker = open_converter(hp, model, spk, device, extractors, no_noise, chunk_seconds,
                                        overlap_seconds, progress=False, retrieval=retrieval, precision=precision,
                                        controls=controls)
    converter.load_extractors()
    os.makedirs(out_dir, exist_ok=True)
    report = BatchReport("svc conversion")
    for wave, out in tqdm(plan.items(), desc="convert", unit="file", disable=not progress):
        try:
            wav16k = load_audio(wave, EXTRACT_RATE)
            wav = converter.convert(speaker, wav16k, shift=shift, seed=seed, names={"spk": str(spk)},
                                    singer_range=singer_range)
            print_notes(wave, converter.notes)
            save_audio(out, wav, converter.rate)
        except (ValueError, RuntimeError) as err:  # unreadable audio, too short, out of memory, ...
            reason = str(err)
            report.fail(wave, reason[len(f"{wave}: "):] if reason.startswith(f"{wave}: ") else reason)
        else:
            report.ok()
    return report


def flag(name):
    return "--" + name.replace("_", "-")


def retrieval_settings(args):
    """RetrievalSettings from the options, or None when retrieval is off; contradictions are errors."""
    index_given = [flag(n) for n in INDEX_FLAGS if getattr(args, n) is not None]
    codebook_given = [flag(n) for n in CODEBOOK_FLAGS if getattr(args, n) is not None]
    use_codebook = args.cluster_ratio is not None
    if args.enable_retrieval and use_codebook:
        raise ValueError("--enable-retrieval (nearest training frames) and --cluster-ratio (k-means centres) are "
                         "two variants of retrieval: choose one.")
    if index_given and not args.enable_retrieval:
        raise ValueError(f"{', '.join(index_given)} only work with --enable-retrieval: add it, or leave them out.")
    if codebook_given and not use_codebook:
        raise ValueError(f"{', '.join(codebook_given)} only work with --cluster-ratio R: add it, or leave them out.")
    common = dict(singer=args.retrieval_singer, data_root=args.data_svc, backend=args.retrieval_backend)
    if args.enable_retrieval:
        return RetrievalSettings("index", 0.5 if args.retrieval_ratio is None else args.retrieval_ratio,
                                 3 if args.n_retrieval_vectors is None else args.n_retrieval_vectors,
                                 args.hubert_index_path, args.whisper_index_path, **common)
    if use_codebook:
        return RetrievalSettings("kmeans", args.cluster_ratio, 1, args.hubert_codebook_path,
                                 args.whisper_codebook_path, **common)
    return None


def target_and_controls(args, retrieval):
    """(speaker file or mix file, Controls) from the options; contradictions are errors."""
    if bool(args.spk) == bool(args.spk_mix):
        raise ValueError("give the target singer with --spk FILE.spk.npy, or a timbre that changes over time "
                         "with --spk-mix mix.yaml|mix.csv (one of the two).")
    if args.spk_mix and not is_mix_file(args.spk_mix):
        raise ValueError(f"--spk-mix {args.spk_mix}: a mix file is .yaml, .yml or .csv; for one speaker "
                         f"vector use --spk.")
    if args.protect is not None and retrieval is None:
        raise ValueError("--protect shields unvoiced frames from retrieval: add --enable-retrieval or "
                         "--cluster-ratio R, or leave --protect out.")
    controls = Controls(loudness_mix=args.loudness_mix)
    if args.protect is not None:
        controls.protect = args.protect
    return args.spk or args.spk_mix, controls


def shift_settings(args):
    """(shift, singer range): --shift N as given; --auto-shift alone: (None, the range beside --spk)."""
    if not args.auto_shift:
        return args.shift or 0.0, None
    if args.shift is not None:
        print(f"--shift {args.shift:g} given: it wins over --auto-shift", file=sys.stderr)
        return args.shift, None
    if not args.spk:
        raise ValueError("--auto-shift reads the singer's F0 range beside --spk (<singer>.f0.json); with --spk-mix "
                         "give the transposition with --shift N.")
    from pitch.singer_range import range_path, read_range

    return None, read_range(range_path(args.spk))


def extractor_settings(args):
    """ExtractorSettings from the options. --fast: Whisper and HuBERT in bfloat16 (where the CPU
    has it) and FCPE pitch, unless --pitch-method or --crepe-model choose the pitch."""
    fast = getattr(args, "fast", False)
    method = args.pitch_method or ("fcpe" if fast and not args.crepe_model else "crepe")
    weights = getattr(args, f"{method}_weights", None)
    return ExtractorSettings(args.whisper_checkpoint, args.hubert_checkpoint, method, args.crepe_model or "full",
                             pitch_repair=getattr(args, "repair", None), bf16=fast, pitch_weights=weights)


def run_inference(args):
    """Convert as the options say; returns the exit status (0 when at least one output was written)."""
    tune_cpu_runtime()
    retrieval = retrieval_settings(args)
    spk, controls = target_and_controls(args, retrieval)
    extractors = extractor_settings(args)
    shift, singer_range = shift_settings(args)
    common = dict(shift=shift, device=args.device, extractors=extractors, seed=args.seed, no_noise=args.no_noise,
                  chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds, retrieval=retrieval,
                  precision=args.precision, controls=controls, singer_range=singer_range)
    if is_batch(args.wave):
        given = [flag(n) for n in ("ppg", "vec", "pit") if getattr(args, n)]
        if given:
            raise ValueError(f"{', '.join(given)} describe one input file, but --wave gives "
                             f"{'a folder' if len(args.wave) == 1 else f'{len(args.wave)} inputs'}: convert that "
                             f"file on its own, or leave {', '.join(given)} out to extract features per file.")
        out_dir = args.out or DEFAULT_OUT_DIR
        report = convert_files(args.config, args.model, spk, args.wave, out_dir, **common)
        report.print_summary(file=sys.stderr)  # the stream of now, not of import time
        return 0 if report.done else 1
    wave = args.wave[0]
    out = args.out or DEFAULT_OUT_FILE
    if os.path.isdir(out):
        out = output_path(out, wave)
    convert_file(args.config, args.model, spk, wave, out, ppg=args.ppg, vec=args.vec, pit=args.pit, **common)
    print(f"{wave} -> {out}")
    return 0
