"""Which pitch method should preprocessing default to on a CPU? CREPE full vs CREPE tiny vs FCPE on
sung-like signals with a known F0 and voicing (low and high voices, a fast octave glide, breath noise,
pauses, consonant-like noise bursts), in training mode as preprocessing runs them: median and gross
error on voiced frames, voicing mistakes, agreement with CREPE full, then speed idle and busy."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import (condition_rows, load_caveat, print_table, set_threads, time_idle_busy,  # noqa: E402
                          warm_up)
from common.audio import EXTRACT_RATE  # noqa: E402
from common.metrics import pitch_agreement  # noqa: E402

METHODS = [("crepe full", dict(method="crepe", model="full")), ("crepe tiny", dict(method="crepe", model="tiny")),
           ("fcpe", dict(method="fcpe"))]
HOP = EXTRACT_RATE // 100


def sung(seconds, f0_at, seed, snr_db=40.0, pauses=False, bursts=False, harmonics=8):
    """(wav [samples], true f0 [frames] with 0 where unvoiced). `f0_at(t)`: Hz at times t (s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * EXTRACT_RATE)) / EXTRACT_RATE
    f0 = f0_at(t)
    phase = 2 * np.pi * np.cumsum(f0) / EXTRACT_RATE
    tilt = [1.0 / k ** 1.2 for k in range(1, harmonics + 1)]
    voice = sum(a * np.sin(k * phase) for k, a in enumerate(tilt, start=1) if k * f0.max() < EXTRACT_RATE / 2)
    voice = 0.3 * voice / np.abs(voice).max()
    gate = np.ones_like(t)
    if pauses:  # 0.4 s rests every 2 s, 30 ms fades
        gate = ((t % 2.0) < 1.6).astype(np.float64)
    if bursts:  # 80 ms of loud noise ('s', 't') at the start of every note
        gate = gate * ((t % 1.0) >= 0.08)
    fade = np.convolve(gate, np.ones(480) / 480, mode="same")
    noise = rng.standard_normal(t.size) * 0.3 / np.sqrt(2) * 10 ** (-snr_db / 20)
    wav = fade * voice + noise
    if bursts:
        wav = wav + ((t % 1.0) < 0.08) * 0.15 * rng.standard_normal(t.size)
    frame_gate = fade[::HOP][: t.size // HOP]
    truth = np.where(frame_gate > 0.99, f0[::HOP][: t.size // HOP], 0.0)
    return wav.astype(np.float32), truth


def signals(seconds):
    vib = lambda centre: (lambda t: centre * 2 ** (0.04 * np.sin(2 * np.pi * 5.5 * t) + 0.2 * np.sin(2 * np.pi * 0.3 * t)))  # noqa: E731
    return {
        "bass 110 Hz, vibrato": sung(seconds, vib(110.0), 1),
        "soprano 660 Hz, vibrato": sung(seconds, vib(660.0), 2),
        "octave glides 0.5 s": sung(seconds, lambda t: 220.0 * 2 ** (np.abs((t % 1.0) - 0.5) * 2), 3),
        "breathy (SNR 10 dB)": sung(seconds, vib(262.0), 4, snr_db=10.0),
        "rests every 2 s": sung(seconds, vib(330.0), 5, pauses=True),
        "noise bursts (consonants)": sung(seconds, vib(196.0), 6, bursts=True),
    }


def accuracy(extractors, seconds):
    rows, totals = [], {label: [] for label in extractors}
    for name, (wav, truth) in signals(seconds).items():
        tracks = {label: e.training(wav) for label, e in extractors.items()}
        for label, f0 in tracks.items():
            score = pitch_agreement(f0, truth)
            agree = pitch_agreement(f0, tracks["crepe full"]) if label != "crepe full" else None
            totals[label].append(score)
            rows.append([name, label, f"{score.median_cents:.1f}", f"{100 * score.gross_rate:.1f}",
                         f"{100 * score.voicing_disagreement:.1f}",
                         "-" if agree is None else f"{agree.median_cents:.1f} / {100 * agree.voicing_disagreement:.1f}"])
    for label, scores in totals.items():
        rows.append(["ALL (mean)", label, f"{np.mean([s.median_cents for s in scores]):.1f}",
                     f"{100 * np.mean([s.gross_rate for s in scores]):.1f}",
                     f"{100 * np.mean([s.voicing_disagreement for s in scores]):.1f}", ""])
    print_table(["signal", "method", "median error (cents)", "gross > 50 c (%)", "voicing wrong (%)",
                 "vs crepe full: cents / voicing (%)"], rows)


def speed(extractors, seconds, repeats):
    wav, _ = sung(seconds, lambda t: 262.0 * 2 ** (0.2 * np.sin(2 * np.pi * 0.3 * t)), 7, pauses=True)
    runs = {label: (lambda e=e: e.training(wav)) for label, e in extractors.items()}
    rows = condition_rows(time_idle_busy(runs, repeats, "cpu", warmup=0), "crepe full",
                          lambda condition, label, t, ratio: [label, condition, t, t / seconds, ratio])
    print_table(["method", "condition", "seconds", "s per s of audio", "faster than crepe full by"], rows)
    print("busy = one CPU-bound process beside the bench; ratios within each condition.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each signal (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, median taken (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--tables", default="both", choices=["accuracy", "speed", "both"],
                        help="accuracy needs no quiet machine; speed does (run it under flock -x) (default both)")
    args = parser.parse_args(argv)
    from pitch.extractor import PitchExtractor

    used = set_threads(args.threads)
    print(f"pitch default bench: CPU, {used} threads, {args.seconds:g} s per signal; {load_caveat()}")
    extractors = {label: PitchExtractor(device="cpu", **options) for label, options in METHODS}
    warm_up({label: (lambda e=e: e.training(np.zeros(8000, np.float32) + 0.01)) for label, e in extractors.items()})
    if args.tables in ("accuracy", "both"):
        accuracy(extractors, args.seconds)
    if args.tables in ("speed", "both"):
        speed(extractors, args.seconds, args.repeats)


if __name__ == "__main__":
    main()
