"""Conversion runs: one file in, one file out; many files (files and/or folders) into one folder,
bad inputs skipped and reported, each output `<out_dir>/<input stem>_svc.wav` (the suffix keeps an
input from being overwritten when the output folder is the input folder), written atomically.
"""
import os
import sys

import numpy as np

from common.atomic import is_temp_file, save_npy
from common.audio import AUDIO_EXTENSIONS, EXTRACT_RATE, is_audio_file, load_audio, save_audio
from common.batch import BatchReport
from common.config import load_config
from common.runtime import tune_cpu_runtime
from pitch.csv_io import read_f0_csv as read_pitch_csv  # F0 [N] Hz at 100 Hz (Excel edits allowed)
from svc.convert import Features, SvcConverter
from svc.feature_files import check_content, check_speaker, load_npy, load_speaker
from svc.progress import LiveBar, Step, announce
from svc.settings import from_args
from svc.timbre_curves import SpeakerMix

OUTPUT_SUFFIX = "_svc.wav"
DEFAULT_OUT_FILE = "svc_out.wav"
DEFAULT_OUT_DIR = "svc_out"


def open_converter(hp, model, settings):
    """(SvcConverter, speaker): model, retrieval indexes and target (vector or SpeakerMix) loaded once."""
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
    """The d-vector of settings.spk (a clip, or the mean over a folder of clips), kept in save_spk."""
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


def convert_file(config, model, wave, out, settings, ppg=None, vec=None, pit=None):
    """Convert `wave` as `settings` say, writing `out` when given; features given as files (ppg/vec .npy
    at 50 Hz, pit CSV at 100 Hz) are used, the others extracted. Returns the float32 waveform."""
    hp = load_config(config)
    wav16k = read_input(wave, settings)
    v = hp.vits
    given = Features(check_content(load_npy(ppg, "PPG"), "ppg", v.ppg_dim, ppg) if ppg else None,
                     check_content(load_npy(vec, "HuBERT units"), "vec", v.vec_dim, vec) if vec else None,
                     read_pitch_csv(pit) if pit else None,
                     names={key: str(path) for key, path in (("ppg", ppg), ("vec", vec), ("f0", pit)) if path})
    converter, speaker = open_converter(hp, model, settings)
    wav = converter.convert(speaker, wav16k, given)
    print_notes(wave, converter.last.notes)
    if out:
        write_output(out, wav, converter.rate, wav16k, settings)
    return wav


def read_input(wave, settings):
    with Step(f"reading {wave}", settings.progress is True):
        return load_audio(wave, EXTRACT_RATE)


def write_output(out, wav, rate, wav16k, settings):
    with Step(f"writing {out}", settings.progress is True):
        save_audio(out, wav, rate, source=wav16k)


def print_notes(wave, notes):
    for line in notes:
        print(f"{wave}: {line}", file=sys.stderr, flush=True)


def list_inputs(waves):
    """Files of `waves` (files kept as given, the audio files directly inside folders sorted by name),
    without repeats, in order."""
    unique = {}
    for wave in map(os.fspath, waves):
        paths = [wave]
        if os.path.isdir(wave):
            paths = [os.path.join(wave, n) for n in sorted(os.listdir(wave))
                     if is_audio_file(n) and not is_temp_file(n) and os.path.isfile(os.path.join(wave, n))]
            if not paths:
                raise ValueError(f"{wave}: no audio files in this folder (looked for "
                                 f"{', '.join(AUDIO_EXTENSIONS)}).")
        for path in paths:
            unique.setdefault(os.path.abspath(path), path)
    return list(unique.values())


def output_path(out_dir, wave):
    stem = os.path.splitext(os.path.basename(os.fspath(wave)))[0]
    return os.path.join(os.fspath(out_dir), stem + OUTPUT_SUFFIX)


def plan_outputs(waves, out_dir):
    """{input: output} of a batch; two inputs that would write the same output are an error naming both."""
    out_dir = os.fspath(out_dir)
    if os.path.isfile(out_dir):
        raise ValueError(f"--out {out_dir} is a file, but several inputs need an output folder: give a folder.")
    if not os.path.isdir(out_dir) and is_audio_file(out_dir):
        raise ValueError(f"--out {out_dir} looks like an audio file, but several inputs need an output folder "
                         f"(outputs are named <input name>{OUTPUT_SUFFIX}): give a folder, e.g. --out svc_out.")
    plan, owner = {}, {}
    for wave in list_inputs(waves):
        out = output_path(out_dir, wave)
        if out in owner:
            raise ValueError(f"{owner[out]} and {wave} would both be written to {out}: rename one of them, "
                             f"or convert them in separate runs.")
        owner[out] = wave
        plan[wave] = out
    return plan


def convert_files(config, model, waves, out_dir, settings):
    """Convert every input of `waves` into `out_dir`; returns a BatchReport (bad inputs are skipped and
    recorded). Each file gets a header line (`file 2/5: name`), then the bars of one conversion."""
    plan = plan_outputs(waves, out_dir)
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
            report.fail(wave, str(err).removeprefix(f"{wave}: "))
        else:
            report.ok()
    return report


def run_inference(args):
    """Convert as svc_inference.py's options say; returns the exit status (0 when at least one output was written)."""
    tune_cpu_runtime()
    settings = from_args(args)
    if len(args.wave) > 1 or os.path.isdir(args.wave[0]):  # the output is a folder
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
