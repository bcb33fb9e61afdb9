"""CREPE pitch extraction speed on CPU: our batched path vs the same network frame by frame."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.timing import load_caveat, print_table, set_threads, time_interleaved  # noqa: E402
from common.audio import EXTRACT_RATE  # noqa: E402




def test_tone(seconds, seed=0):
    """A sung-like 16 kHz tone: vibrato around 220 Hz, a few harmonics, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * EXTRACT_RATE)) / EXTRACT_RATE
    f0 = 220.0 * 2 ** (0.3 * np.sin(2 * np.pi * 0.5 * t) + 0.05 * np.sin(2 * np.pi * 5.5 * t))
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
    time_interleaved({"ours": lambda: ours.training(test_tone(0.5)),
                      "single": lambda: single.training(test_tone(0.5))}, 0, "cpu")
    f0_ours, f0_single = ours.training(wav), single.training(wav)
    diff = float(np.abs(f0_ours - f0_single).max()) if f0_ours.size else 0.0
    times = time_interleaved({"ours": lambda: ours.training(wav), "single": lambda: single.training(wav)},
                             repeats, "cpu", warmup=0)
    rows = [["ours (batched)", times["ours"], times["ours"] / seconds, 1.0],
            ["frame by frame (batch 1)", times["single"], times["single"] / seconds, times["single"] / times["ours"]]]
    print_table(["path", "seconds", "s per s of audio", "ours faster by"], rows)
    print(f"max |f0 ours - f0 frame by frame| = {diff:.3g} Hz. Target on 2 cores: ours <= 1.8 s per s "
          f"(CREPE full ~1.4 GMAC/frame, 100 frames/s: ~1.5 s is the floor).")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length in seconds (default: 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path, median taken (default: 3)")
    parser.add_argument("--model", default="full", choices=["full", "tiny"], help="CREPE size (default: full)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 seconds of audio, 1 repeat")
    args = parser.parse_args(argv)
    seconds, repeats = (2.0, 1) if args.quick else (args.seconds, args.repeats)
    run(seconds, repeats, args.model, args.threads)


if __name__ == "__main__":
    main()
