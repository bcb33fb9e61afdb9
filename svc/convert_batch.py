"""Many files in, one output folder: model, extractors and indexes load once, bad inputs are skipped.

Inputs are files and/or folders (every audio file directly inside, sorted by name). Each output
is `<out_dir>/<input stem>_svc.wav` (the suffix keeps an input from being overwritten when the
output folder is the input folder), written atomically.
"""
import os

from tqdm import tqdm

from common.atomic import is_temp_file
from common.audio import AUDIO_EXTENSIONS, is_audio_file, load_audio, save_audio
from common.batch import BatchReport
from common.config import load_config
from svc.convert import EXTRACT_RATE
from svc.convert_file import open_converter

OUTPUT_SUFFIX = "_svc.wav"


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
                  no_noise=False, chunk_seconds=25.0, overlap_seconds=1.0, retrieval=None, progress=True):
    """Convert every input of `waves` (files and/or folders) into `out_dir`. Returns a BatchReport.

    Settings are those of svc.convert_file.convert_file. An input that cannot be read or
    converted is recorded in the report with its reason and skipped.
    """
    check_out_dir(out_dir)
    plan = plan_outputs(list_inputs(waves), out_dir)
    hp = load_config(config)
    converter, speaker = open_converter(hp, model, spk, device, extractors, no_noise, chunk_seconds,
                                        overlap_seconds, progress=False, retrieval=retrieval)
    converter.load_extractors()
    os.makedirs(out_dir, exist_ok=True)
    report = BatchReport("svc conversion")
    for wave, out in tqdm(plan.items(), desc="convert", unit="file", disable=not progress):
        try:
            wav16k = load_audio(wave, EXTRACT_RATE)
            wav = converter.convert(speaker, wav16k, shift=shift, seed=seed, names={"spk": str(spk)})
            save_audio(out, wav, converter.rate)
        except (ValueError, RuntimeError) as err:  # unreadable audio, too short, out of memory, ...
            reason = str(err)
            report.fail(wave, reason[len(f"{wave}: "):] if reason.startswith(f"{wave}: ") else reason)
        else:
            report.ok()
    return report
