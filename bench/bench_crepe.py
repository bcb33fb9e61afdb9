"""Pitch extraction speed on CPU: CREPE's batched path vs the same network frame by frame, then every
pitch method side by side (seconds per second of audio, and median error on the test tone)."""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.fixtures import PITCH_ROWS, pitch_extractors  # noqa: E402
from bench.timing import (condition_rows, load_caveat, print_table, set_threads, time_idle_busy,  # noqa: E402
                          warm_up)
from common.audio import EXTRACT_RATE  # noqa: E402
from common.metrics import pitch_agreement  # noqa: E402

METHOD_ROWS = [row for row in PITCH_ROWS if row[0] != "rmvpe"]  # rmvpe: bench_pitch_robust.py


def tone_f0(seconds):
    """F0 of `test_tone` at every sample: vibrato on a slow +-0.3 octave swing around 220 Hz."""
    t = np.arange(int(seconds * EXTRACT_RATE)) / EXTRACT_RATE
    return 220.0 * 2 ** (0.3 * np.sin(2 * np.pi * 0.5 * t) + 0.05 * np.sin(2 * np.pi * 5.5 * t))


def test_tone(seconds, seed=0):
    """A sung-like 16 kHz tone: vibrato around 220 Hz, a few harmonics, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * EXTRACT_RATE)) / EXTRACT_RATE
    f0 = tone_f0(seconds)
    phase = 2 * np.pi * np.cumsum(f0) / EXTRACT_RATE
    wav = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) + 0.01 * rng.standard_normal(t.size)
    return wav.astype(np.float32)


def run(seconds=10.0, repeats=3, model="full", threads=None):
    """Rows: ours (PitchExtractor defaults, batched) and the same network frame by frame."""
    from pitch.extractor import PitchExtractor

    used = set_threads(threads)
    print(f"CREPE bench: model {model}, CPU, {used} threads, {seconds:g} s of audio, paths interleaved; "
          f"{load_caveat()}")
    ours = PitchExtractor(method="crepe", model=model, device="cpu")
    single = PitchExtractor(method="crepe", model=model, device="cpu", batch_size=1)
    wav = test_tone(seconds)
    paths = {"ours (batched)": ours, "frame by frame (batch 1)": single}
    warm_up({name: (lambda e=e: e.training(test_tone(0.5))) for name, e in paths.items()})
    f0_ours, f0_single = ours.training(wav), single.training(wav)
    diff = float(np.abs(f0_ours - f0_single).max()) if f0_ours.size else 0.0
    times = time_idle_busy({name: (lambda e=e: e.training(wav)) for name, e in paths.items()}, repeats, "cpu",
                           warmup=0)
    rows = condition_rows(times, "ours (batched)", lambda condition, name, t, _:
                          [name, condition, t, t / seconds, t / times[condition]["ours (batched)"]])
    print_table(["path", "condition", "seconds", "s per s of audio", "ours faster by"], rows)
    print(f"busy = one CPU-bound process beside the bench. max |f0 ours - f0 frame by frame| = {diff:.3g} Hz. "
          f"Target on 2 cores: ours <= 1.8 s per s (CREPE full ~1.4 GMAC/frame, 100 frames/s: ~1.5 s is the floor).")
    return rows


def run_methods(seconds=10.0, repeats=3, threads=None):
    """Every pitch method on the same tone, interleaved: seconds per second of audio (training mode,
    as preprocessing runs it), relative to CREPE full, and the median error in cents on voiced frames."""
    used = set_threads(threads)
    print(f"pitch methods bench: CPU, {used} threads, {seconds:g} s of audio, methods interleaved; {load_caveat()}")
    extractors, missing = pitch_extractors(METHOD_ROWS)
    wav = test_tone(seconds)
    truth = tone_f0(seconds)[:: EXTRACT_RATE // 100][: len(wav) // 160]
    warm_up({k: (lambda e=e: e.training(test_tone(0.5))) for k, e in extractors.items()})
    errors = {label: pitch_agreement(e.training(wav), truth).median_cents for label, e in extractors.items()}
    by_condition = time_idle_busy({k: (lambda e=e: e.training(wav)) for k, e in extractors.items()}, repeats,
                                  "cpu", warmup=0)
    rows = []
    for condition, times in by_condition.items():
        base = times.get("crepe full")
        rows += [[label, condition, times[label], times[label] / seconds, base / times[label] if base else "-",
                  "-" if math.isnan(errors[label]) else f"{errors[label]:.1f}"] for label in extractors]
    print_table(["method", "condition", "seconds", "s per s of audio", "faster than crepe full by",
                 "median error (cents)"], rows)
    print("busy = one CPU-bound process beside the bench; ratios within each condition.")
    if missing:
        print("not timed: " + "; ".join(missing))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length in seconds (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path, median taken (default: 3)")
    parser.add_argument("--model", default="full", choices=["full", "tiny"], help="CREPE size (default: full)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 seconds of audio, 1 repeat")
    parser.add_argument("--tables", default="both", choices=["crepe", "methods", "both"],
                        help="crepe: batched vs frame by frame; methods: every pitch method side by side (default both)")
    args = parser.parse_args(argv)
    seconds, repeats = (2.0, 1) if args.quick else (args.seconds, args.repeats)
    if args.tables in ("crepe", "both"):
        run(seconds, repeats, args.model, args.threads)
    if args.tables in ("methods", "both"):
        run_methods(seconds, repeats, args.threads)


if __name__ == "__main__":
    main()
