"""Step 1: raw audio -> mono, resampled, peak-normalised 16-bit WAV (`waves-16k`, `waves-32k`)."""
import os
import warnings

import numpy as np

from common.audio import load_audio, save_audio
from common.dataset import iter_dataset, output_path
from prepare.jobs import EXISTS, FAIL, OK, Outcome, StepError, StepReport, remove_temp_files, run_jobs
from prepare.skip_memory import SkipMemory

SILENCE_PEAK = 1e-4  # below this the clip holds no usable signal
DEFAULT_PEAK = 0.6  # target peak as a fraction of full scale (the public tool's level)


def prepare_wave(src, targets, min_seconds=0.5, max_seconds=30.0, peak=DEFAULT_PEAK):
    """Write `src` as mono 16-bit WAV at each (out_path, rate) of `targets` that does not exist yet."""
    todo = [(path, sr) for path, sr in targets if not os.path.exists(path)]
    if not todo:
        return Outcome(EXISTS, src)
    warning = ""
    for path, sr in todo:
        with warnings.catch_warnings():  # a fallback reader's warnings: the outcome says what went wrong
            warnings.simplefilter("ignore")
            wav = load_audio(src, sr)
        seconds = len(wav) / sr
        if seconds < min_seconds:
            return Outcome(FAIL, src, f"too short ({seconds:.2f} s < {min_seconds} s): the model cannot use it; "
                                      f"remove it or join it with a neighbouring clip")
        top = float(np.max(np.abs(wav)))
        if top < SILENCE_PEAK:
            return Outcome(FAIL, src, f"silent (peak {top:.1e}): nothing to learn from; remove it")
        if seconds > max_seconds:
            warning = (f"long clip ({seconds:.0f} s > {max_seconds:.0f} s): it is processed in chunks, but "
                       f"slicing it into 5-15 s pieces is recommended (e.g. audio-slicer)")
        save_audio(path, wav * (peak / top), sr)
    return Outcome(OK, src, warning=warning)


def resample_dataset(in_root, targets, pool=None, min_seconds=0.5, max_seconds=30.0, peak=DEFAULT_PEAK):
    """Convert every `<in_root>/<speaker>/<file>`; `targets` = [(out_root, rate), ...].

    Output names keep the input's name with `.wav`; two inputs with the same name and different
    extensions would collide, so the second is skipped.
    """
    if not os.path.isdir(in_root):
        raise StepError(f"{in_root}: dataset folder not found. Put your clips in {in_root}/<speaker>/<clip>.wav "
                        f"or pass the folder with -w/--dataset.")
    remove_temp_files(*[root for root, _ in targets])
    rates = "+".join(f"{sr // 1000}k" for _, sr in targets)
    report = StepReport(f"resample {rates}")
    loose = [n for n in sorted(os.listdir(in_root)) if os.path.isfile(os.path.join(in_root, n))]
    if loose:
        report.warnings.append((in_root, f"{len(loose)} file(s) directly in the folder are ignored (e.g. "
                                         f"{loose[0]!r}): put clips in {in_root}/<speaker>/"))
    memory = SkipMemory(targets[0][0], {"targets": [[os.path.abspath(r), sr] for r, sr in targets],
                                        "min_seconds": min_seconds, "max_seconds": max_seconds, "peak": peak})
    jobs, seen = [], {}
    for speaker, name, path in iter_dataset(in_root):
        key = (speaker, name)
        if key in seen:
            report.fail(path, f"same name as {seen[key]} (only the extension differs): rename one of them")
            continue
        seen[key] = path
        outs = [(output_path(root, speaker, name, ".wav"), sr) for root, sr in targets]
        if all(os.path.exists(out) for out, _ in outs):
            report.exists()  # decided here, so a run with nothing to do starts no worker
            continue
        remembered = memory.reason(path)
        if remembered:
            report.fail(path, remembered)
            continue
        jobs.append((path, outs, min_seconds, max_seconds, peak))
    if not seen:
        raise StepError(f"{in_root}: no audio files in <speaker> folders. Expected {in_root}/<speaker>/<clip>.wav")
    run_jobs(prepare_wave, jobs, report, desc=f"resample {rates}", pool=pool)
    tried = {job[0] for job in jobs}
    memory.update([(src, reason) for src, reason in report.failed if src in tried], tried)
    return report
