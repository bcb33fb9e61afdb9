"""Pitch that survives an accompaniment: every pitch method on synthetic sung material with known
pitch, dry and with a backing (chords in the voice's range, bass, drum-like bursts) at -12 / -6 / 0 dB,
in conversion mode with the repair pass (what svc_inference.py does with an extracted pitch).

    flock -x /tmp/cpu.lock python bench/bench_pitch_robust.py [--songs 3 --seconds 8] [--rmvpe-weights rmvpe.pt]

Per method and backing level, averaged over the songs: gross error (share of voiced frames more than 50 cents from the known
pitch), voicing misses (voiced frames the tracker called unvoiced) and false alarms (unvoiced frames
it called voiced); then seconds per second of audio on the CPU, idle and beside one CPU-bound process,
as ratios to CREPE full timed in the same run. Without a real rmvpe.pt (default place
rmvpe_pretrain/rmvpe.pt) RMVPE runs with random weights of the public layout: speed only.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.fixtures import PITCH_ROWS, pitch_extractors  # noqa: E402
from bench.robust_material import make_material  # noqa: E402
from bench.timing import load_caveat, print_table, set_threads, time_idle_busy  # noqa: E402
from common.paths import RMVPE_CKPT  # noqa: E402

LEVELS = (None, -12, -6, 0)
GROSS_CENTS = 50.0


def score(contour, material):
    """(gross error share on voiced frames, miss share of voiced, false-alarm share of unvoiced)."""
    f0, heard = contour.f0.astype(np.float64), contour.voiced
    n = min(len(f0), len(material.f0))
    truth, scored, f0, heard = material.f0[:n], material.scored[:n], f0[:n], heard[:n]
    voiced = (truth > 0) & scored
    unvoiced = (truth == 0) & scored
    error = np.abs(1200 * np.log2(np.maximum(f0[voiced], 1e-6) / truth[voiced]))
    return (float(np.mean(error > GROSS_CENTS)), float(np.mean(~heard[voiced])),
            float(np.mean(heard[unvoiced])) if unvoiced.any() else 0.0)


def random_rmvpe_file(folder):
    """A full-size rmvpe.pt of the public layout (fp16) with random weights."""
    import torch

    from pitch.rmvpe_net import RmvpeNet

    torch.manual_seed(0)
    state = {k: (v.half() if v.dtype.is_floating_point else v) for k, v in RmvpeNet().state_dict().items()}
    path = os.path.join(folder, "rmvpe_random.pt")
    torch.save(state, path)
    return path


def run(seconds=8.0, repeats=1, rmvpe_weights=None, threads=None, seed=0, speed=True, songs=3):
    used = set_threads(threads)
    print(f"pitch robustness bench: {songs} synthetic songs of {seconds:g} s (seeds {seed}-{seed + songs - 1}), "
          f"CPU, {used} threads; {load_caveat()}")
    materials = [make_material(seconds, seed + i) for i in range(songs)]
    real_rmvpe = rmvpe_weights or (RMVPE_CKPT if os.path.isfile(RMVPE_CKPT) else None)
    with tempfile.TemporaryDirectory() as folder:
        rmvpe = {"weights": real_rmvpe or random_rmvpe_file(folder)}
        extractors, notes = pitch_extractors(PITCH_ROWS, rmvpe=rmvpe)
        accuracy = {}
        for label, extractor in extractors.items():
            if label == "rmvpe" and not real_rmvpe:
                continue
            accuracy[label] = {level: np.mean([score(extractor.contour(m.mix(level), "conversion", repair=True), m)
                                               for m in materials], axis=0) for level in LEVELS}
        wav = materials[0].mix(0)
        times = time_idle_busy({k: (lambda e=e: e.contour(wav, "conversion", repair=True))
                                for k, e in extractors.items()}, repeats, "cpu", warmup=0) if speed else None
    name = lambda level: "dry" if level is None else f"{level} dB"  # noqa: E731
    headers = ["method"] + [f"gross {name(lv)}" for lv in LEVELS] + [f"miss/false {name(lv)}" for lv in LEVELS]
    rows = []
    for label in extractors:
        if label not in accuracy:
            rows.append([label + " (random weights)"] + ["-"] * (2 * len(LEVELS)))
            continue
        by = accuracy[label]
        rows.append([label] + [f"{100 * by[lv][0]:.1f}%" for lv in LEVELS]
                    + [f"{100 * by[lv][1]:.0f}/{100 * by[lv][2]:.0f}%" for lv in LEVELS])
    print("\naccuracy (conversion mode + repair; gross = > 50 cents off the known pitch, on voiced frames; miss = "
          "voiced frames heard unvoiced; false = unvoiced frames heard voiced):")
    print_table(headers, rows)
    for note in notes:
        print("not run: " + note)
    if times is None:
        return accuracy, times
    base = times["idle"].get("crepe full"), times["busy"].get("crepe full")
    speed = [[label, times["idle"][label] / seconds, times["busy"][label] / seconds,
              f"{base[0] / times['idle'][label]:.2f}x" if base[0] else "-",
              f"{base[1] / times['busy'][label]:.2f}x" if base[1] else "-"] for label in extractors]
    print(f"\nspeed ({seconds:g} s clip with the 0 dB backing, conversion mode; busy = one CPU-bound process beside it):")
    print_table(["method", "s per s idle", "s per s busy", "vs crepe full idle", "vs crepe full busy"], speed)
    print("\nREADME rows (method | gross dry, -12, -6, 0 dB | miss/false -12 dB, 0 dB | s per s idle / busy):")
    for label in extractors:
        by = accuracy.get(label)
        cells = ([f"{100 * by[lv][0]:.1f}%" for lv in LEVELS] + [f"{100 * by[lv][1]:.0f}% / {100 * by[lv][2]:.0f}%"
                                                                  for lv in (-12, 0)]) if by else ["-"] * 6
        speed_cell = f"{times['idle'][label] / seconds:.3f} / {times['busy'][label] / seconds:.3f}"
        print(f"| `{label}`{' (random weights)' if by is None else ''} | " + " | ".join(cells + [speed_cell]) + " |")
    return accuracy, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each synthetic song (default 8)")
    parser.add_argument("--songs", type=int, default=3, help="songs (seeds) averaged for the accuracy (default 3)")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per condition, median taken (default 2)")
    parser.add_argument("--rmvpe-weights", default=None,
                        help="a real rmvpe.pt (default rmvpe_pretrain/rmvpe.pt when present; else random weights, "
                             "timed only)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic material (default 0)")
    parser.add_argument("--no-speed", dest="speed", action="store_false",
                        help="accuracy only (needs no quiet machine: `flock -s` is enough)")
    args = parser.parse_args(argv)
    run(args.seconds, args.repeats, args.rmvpe_weights, args.threads, args.seed, args.speed, args.songs)


if __name__ == "__main__":
    main()
