"""Conversion runs: one file in, one file out; many files into one folder; svc_inference.py's options.

A batch takes files and/or folders (every audio file directly inside, sorted by name). Model,
extractors and retrieval indexes load once; an input that cannot be read or converted is skipped
and reported. Each output is `<out_dir>/<input stem>_svc.wav` (the suffix keeps an input from
being overwritten when the output folder is the input folder), written atomically.
"""
import os
import sys

import numpy as np

from common.atomic import is_temp_file
from common.audio import AUDIO_EXTENSIONS, EXTRACT_RATE, is_audio_file, load_audio, save_audio
from common.batch import BatchReport
from common.config import load_config
from common.runtime import tune_cpu_runtime
from pitch.csv_io import read_f0_csv as read_pitch_csv  # F0 [N] Hz at 100 Hz (Excel edits allowed)
from svc.convert import Features, SvcConverter
from svc.feature_files import check_speaker, load_ppg, load_speaker, load_vec
from svc.progress import LiveBar, Step, announce
from svc.settings import ConversionSettings, from_args
from svc.timbre_curves import SpeakerMix

OUTPUT_SUFFIX = "_svc.wav"
DEFAULT_OUT_FILE = "svc_out.wav"
DEFAULT_OUT_DIR = "svc_out"


def open_converter(hp, model, settings):
    """(SvcConverter, speaker): model, target and retrieval indexes loaded once. The target
    (settings.spk or settings.spk_mix) is a speaker vector (.npy) or a mix file (.yaml/.csv:
    weights over time, an svc.timbre_curves.SpeakerMix)."""
    target = settings.target
    if settings.spk_mix:
        speaker = SpeakerMix(target)
        speaker.check_width(hp.vits.spk_dim)
    elif settings.spk_is_audio:
        speaker = speaker_from_audio(settings, hp.vits.spk_dim)
    else:
        speaker = load_speaker(target, hp.vits.spk_dim)
    return SvcConverter(hp, model, settings), speaker


def speaker_from_audio(settings, spk_dim):
    """The d-vector of the singer's audio (settings.spk: a clip, or the mean over a folder of clips),
    made with settings.speaker_checkpoint and kept in settings.save_spk when given."""
    from common.atomic import save_npy
    from speaker.encoder import SpeakerEncoder

    clips, shown = list_inputs([settings.spk]), settings.progress is True
    with Step(f"loading the speaker encoder {settings.speaker_checkpoint}", shown):
        encoder = SpeakerEncoder(settings.speaker_checkpoint, settings.device)
    with LiveBar(total=len(clips), desc="speaker vector", unit="clip", disable=not shown) as bar:
        vectors = [(encoder(load_audio(clip, EXTRACT_RATE)), bar.update())[0] for clip in clips]
    vector = check_speaker(np.mean(vectors, axis=0), spk_dim, f"speaker vector of {settings.spk}")
    note = f"speaker vector made from {len(clips)} clip{'s' if len(clips) > 1 else ''} ({settings.spk})"
    if settings.save_spk:
        save_npy(settings.save_spk, vector)
        note += f", kept in {settings.save_spk}"
    print(note, file=sys.stderr)
    return vector


def convert_file(config, model, wave, out=None, settings=None, ppg=None, vec=None, pit=None):
    """Convert `wave` as `settings` (svc.settings.ConversionSettings) say; writes `out` (16-bit WAV)
    when given. Features given as files (ppg/vec .npy at 50 Hz, pit CSV at 100 Hz) are used as
    they are; the others are extracted from the audio. Notes (pitch repairs, the chosen shift) are
    printed to stderr. Returns the float32 waveform."""
    settings = settings or ConversionSettings()
    hp = load_config(config)
    wav16k = read_input(wave, settings)
    v = hp.vits
    given = Features(load_ppg(ppg, v.ppg_dim) if ppg else None, load_vec(vec, v.vec_dim) if vec else None,
                     read_pitch_csv(pit) if pit else None,
                     names={key: str(path) for key, path in (("ppg", ppg), ("vec", vec), ("f0", pit)) if path})
    converter, speaker = open_converter(hp, model, settings)
    wav = converter.convert(speaker, wav16k, given)
    print_notes(wave, converter.last.notes)
    if out:
        write_output(out, wav, converter.rate, wav16k, settings)
    return wav


def read_input(wave, settings):
    """The input at the extractors' rate (16 kHz), with a live line while it is decoded."""
    with Step(f"reading {wave}", settings.progress is True):
        return load_audio(wave, EXTRACT_RATE)


def write_output(out, wav, rate, wav16k, settings):
    """Check and write one output (common.audio.save_audio), with a live line."""
    with Step(f"writing {out}", settings.progress is True):
        save_audio(out, wav, rate, source=wav16k)


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


def convert_files(config, model, waves, out_dir, settings):
    """Convert every input of `waves` (files and/or folders) into `out_dir`, as `settings` say.
    Returns a BatchReport; an input that cannot be read or converted is recorded in it with its
    reason and skipped. Each file gets a header line (`file 2/5: name`) and then the same live
    lines and bars as one conversion (extractors, synthesis chunks), so a long song in a batch
    shows its progress too.
    """
    check_out_dir(out_dir)
    plan = plan_outputs(list_inputs(waves), out_dir)
    hp = load_config(config)
    converter, speaker = open_converter(hp, model, settings)
    converter.load_extractors()
    os.makedirs(out_dir, exist_ok=True)
    report = BatchReport("svc conversion")
    for number, (wave, out) in enumerate(plan.items(), start=1):
        announce(f"file {number}/{len(plan)}: {wave}", settings.progress is True)
        try:
            wav16k = read_input(wave, settings)
            wav = converter.convert(speaker, wav16k)
            print_notes(wave, converter.last.notes)
            write_output(out, wav, converter.rate, wav16k, settings)
        except (ValueError, RuntimeError) as err:  # unreadable audio, too short, out of memory, ...
            reason = str(err)
            report.fail(wave, reason[len(f"{wave}: "):] if reason.startswith(f"{wave}: ") else reason)
        else:
            report.ok()
    return report


def run_inference(args):
    """Convert as svc_inference.py's options say; returns the exit status (0 when at least one output was written)."""
    tune_cpu_runtime()
    settings = from_args(args)
    if is_batch(args.wave):
        given = [flag for flag, path in (("--ppg", args.ppg), ("--vec", args.vec), ("--pit", args.pit)) if path]
        if given:
            raise ValueError(f"{', '.join(given)} describe one input file, but --wave gives "
                             f"{'a folder' if len(args.wave) == 1 else f'{len(args.wave)} inputs'}: convert that "
                             f"file on its own, or leave {', '.join(given)} out to extract features per file.")
        report = convert_files(args.config, args.model, args.wave, args.out or DEFAULT_OUT_DIR, settings)
        report.print_summary(file=sys.stderr)  # the stream of now, not of import time
        return 0 if report.done else 1
    wave = args.wave[0]
    out = args.out or DEFAULT_OUT_FILE
    if os.path.isdir(out) or out.endswith(("/", os.sep)):  # a folder, made when the output is saved
        out = output_path(out, wave)
    convert_file(args.config, args.model, wave, out, settings, args.ppg, args.vec, args.pit)
    print(f"{wave} -> {out}")
    return 0
