"""bfloat16 content extractors on CPU (AVX512-BF16 / AMX): speed and closeness to fp32.

Whisper (large-v2 size and a tiny model) and HuBERT-Soft (real size and tiny), random weights in
the real file formats, on a sung-like test signal. A reduced precision is kept for `--fast` only
where every frame's cosine similarity to the fp32 output is at least MIN_COSINE.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.timing import CONDITIONS, load_caveat, print_table, set_threads, time_idle_busy  # noqa: E402
from common.extractor import cpu_has_bf16  # noqa: E402

MIN_COSINE = 0.999


def frame_cosines(a, b):
    """Cosine similarity of each frame (row) of two [frames, dim] arrays."""
    import numpy as np

    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def extractor_pairs(folder, size):
    """[(name, fp32 extractor, bf16 extractor)] built from random checkpoints ("full" or "tiny")."""
    from hubert.units import HubertSoft
    from whisper.ppg import WhisperPPG

    whisper, hubert = fixtures.extractor_checkpoints(folder, size)
    full = size == "full"
    return [(f"Whisper {'large-v2 size' if full else 'tiny'}", WhisperPPG(whisper, "cpu", noise=False),
             WhisperPPG(whisper, "cpu", noise=False, bf16=True)),
            (f"HuBERT-Soft {'real size' if full else 'tiny'}", HubertSoft(hubert, "cpu"),
             HubertSoft(hubert, "cpu", bf16=True))]


def run(seconds=15.0, repeats=2, threads=None, sizes=("tiny", "full")):
    from bench.bench_crepe import test_tone

    used = set_threads(threads)
    print(f"bf16 extractor bench: CPU, {used} threads, {seconds:g} s of audio, native bf16: {cpu_has_bf16()}, "
          f"busy = one CPU-bound process beside the bench; {load_caveat()}")
    wav = test_tone(seconds)
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            for name, fp32, bf16 in extractor_pairs(folder, size):
                cos = frame_cosines(fp32(wav), bf16(wav))
                keep = "yes" if cos.min() >= MIN_COSINE and bf16.bf16 else "no"
                times = time_idle_busy({"fp32": lambda e=fp32: e(wav), "bf16": lambda e=bf16: e(wav)}, repeats,
                                       warmup=0)  # the cosine pass above warmed both
                for condition in CONDITIONS:
                    t = times[condition]
                    rows.append([name, condition, t["fp32"], t["bf16"], t["fp32"] / t["bf16"],
                                 f"{cos.mean():.6f}", f"{cos.min():.6f}", keep])
    print_table(["model", "condition", "fp32 s", "bf16 s", "bf16 faster by", "cos mean", "cos min",
                 f"kept (min >= {MIN_COSINE})"], rows)
    print("cos = per-frame cosine similarity of the bf16 output to the fp32 output; random weights.")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0, help="audio length in seconds (default: 15)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed repeats per precision and condition, median taken (default: 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="tiny models only, 4 s of audio, 1 repeat")
    args = parser.parse_args(argv)
    seconds, repeats, sizes = ((4.0, 1, ("tiny",)) if args.quick
                               else (args.seconds, args.repeats, ("tiny", "full")))
    run(seconds, repeats, args.threads, sizes)


if __name__ == "__main__":
    main()
