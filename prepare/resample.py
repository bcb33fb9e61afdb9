"""Step 1: raw audio -> mono, resampled, levelled 16-bit WAV (`waves-16k`, `waves-32k`), long
recordings sliced at their pauses (prepare/clip_pieces.py)."""
import os
from dataclasses import asdict

from common.dataset import iter_dataset, output_path
from prepare.clip_pieces import ClipOptions, is_written, write_clip
from prepare.jobs import EXISTS, OK, Outcome, StepError, StepReport, remove_temp_files, run_jobs
from prepare.skip_memory import SkipMemory


def prepare_wave(src, targets, min_seconds=0.5, max_seconds=30.0, clip=ClipOptions()):
    """Write `src` as mono 16-bit WAV (or its pieces) at each (out_path, rate) of `targets` not written yet.
    An unusable `src` raises (ClipProblem, AudioError): run_jobs reports it as skipped."""
    warning = write_clip(src, targets, clip, min_seconds, max_seconds)
    return Outcome(EXISTS, src) if warning is None else Outcome(OK, src, warning=warning)


def resample_dataset(in_root, targets, pool=None, min_seconds=0.5, max_seconds=30.0, clip=ClipOptions()):
    """Convert every `<in_root>/<speaker>/<file>` to `<out_root>/<speaker>/<name>.wav` (or its pieces) for
    each (out_root, rate) of `targets`. Of two inputs differing only in extension, the second is skipped."""
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
                                        "min_seconds": min_seconds, "max_seconds": max_seconds, **asdict(clip)})
    jobs, seen = [], {}
    for speaker, name, path in iter_dataset(in_root):
        key = (speaker, name)
        if key in seen:
            report.fail(path, f"same name as {seen[key]} (only the extension differs): rename one of them")
            continue
        seen[key] = path
        outs = [(output_path(root, speaker, name, ".wav"), sr) for root, sr in targets]
        if all(is_written(out) for out, _ in outs):
            report.exists()  # decided here, so a run with nothing to do starts no worker
            continue
        if remembered := memory.reason(path):
            report.fail(path, remembered)
            continue
        jobs.append((path, outs, min_seconds, max_seconds, clip))
    if not seen:
        raise StepError(f"{in_root}: no audio files in <speaker> folders. Expected {in_root}/<speaker>/<clip>.wav")
    run_jobs(prepare_wave, jobs, report, desc=f"resample {rates}", pool=pool)
    tried = {job[0] for job in jobs}
    memory.update([(src, reason) for src, reason in report.failed if src in tried], tried)
    return report
