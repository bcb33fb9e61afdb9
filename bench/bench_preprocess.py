"""Preprocessing throughput (clips per minute) of the whole svc_preprocessing.py pipeline, -t 1 vs -t 2."""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.timing import CONDITIONS, load_caveat, print_table, under  # noqa: E402
from common.cli import add_device_argument  # noqa: E402


TINY_CONFIG = os.path.join(fixtures.ROOT, "tests", "tiny.yaml")


def run(workers=(1, 2), speakers=2, clips=4, seconds=4.0, full=False, device="cpu", keep=None):
    """Whole pipeline (steps 1-9) on a fresh output folder per worker count.

    full: base config, full-size random Whisper (large-v2 dims), HuBERT-Soft, speaker LSTM and
    CREPE full; else the tiny test config with tiny random checkpoints and CREPE tiny."""
    what = ("FULL-size random Whisper/HuBERT/speaker, CREPE full" if full
            else "TINY random Whisper/HuBERT/speaker (tests/tiny.yaml), CREPE tiny")
    total = speakers * clips
    print(f"preprocessing bench: {total} clips of {seconds:g} s, {what}, device {device}; {load_caveat()}")
    rows = []
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        dataset = os.path.join(folder, "dataset_raw")
        for s in range(speakers):
            singer = os.path.join(dataset, f"singer{s}")
            os.makedirs(singer)
            for c in range(clips):
                fixtures.write_song(os.path.join(singer, f"clip{c:03d}.wav"), seconds, seed=100 * s + c)
        whisper, hubert = fixtures.extractor_checkpoints(folder, "full" if full else "tiny")
        speaker = fixtures.speaker_checkpoint(folder, full)
        for condition, n in ((c, n) for c in CONDITIONS for n in workers):
            out = os.path.join(folder, f"run_{condition}_t{n}")
            argv = [sys.executable, os.path.join(fixtures.ROOT, "svc_preprocessing.py"), "-w", dataset,
                    "-o", os.path.join(out, "data_svc"), "--files", os.path.join(out, "files"), "-t", str(n),
                    "--device", device, "-c", fixtures.BASE_CONFIG if full else TINY_CONFIG,
                    "--crepe-model", "full" if full else "tiny", "--whisper-checkpoint", whisper,
                    "--hubert-checkpoint", hubert, "--speaker-checkpoint", speaker]
            with under(condition):
                wall, peak = fixtures.run_measured(argv, f"svc_preprocessing.py -t {n}")
            rows.append([condition, n, wall, total / (wall / 60.0), f"{peak:.0f}"])
    base = {row[0]: row[3] for row in reversed(rows)}  # the first worker count of each condition
    for row in rows:
        row.append(row[3] / base[row[0]])
    print_table(["condition", "-t", "wall s", "clips/min", "peak RSS MiB (main)", f"vs -t {workers[0]}"], rows)
    print("busy = one CPU-bound process beside the run.")
    print("Each run starts from an empty output folder; wall time includes loading every model.")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="-t values to compare (default: 1 2)")
    parser.add_argument("--speakers", type=int, default=2, help="speakers in the synthetic dataset (default: 2)")
    parser.add_argument("--clips", type=int, default=4, help="clips per speaker (default: 4)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip (default: 4)")
    parser.add_argument("--full", action="store_true",
                        help="full-size random checkpoints, base config and CREPE full (default: tiny ones)")
    add_device_argument(parser, "cpu", help="--device for svc_preprocessing.py (default: cpu)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary dataset (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 speakers x 2 clips of 2 s, tiny")
    args = parser.parse_args(argv)
    sizes = (2, 2, 2.0, False) if args.quick else (args.speakers, args.clips, args.seconds, args.full)
    run(args.threads, *sizes, args.device, args.tmp)


if __name__ == "__main__":
    main()
