"""End-to-end svc_inference.py on a 30 s song with full-size random-weight extractors: time and memory."""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.fixtures import BASE_CONFIG  # noqa: E402
from bench.timing import CONDITIONS, cpu_cores, load_caveat, print_table, under  # noqa: E402


# svc_inference.py with the public code's arithmetic, for the "separate programs" baseline: the
# plain generator (fast=False: weight norm kept, plain convolutions, relative attention through
# the public [L, 2L-1] offset tables)
PLAIN_GENERATOR = """
import sys
sys.path.insert(0, {root!r})
from svc import convert, model_files
convert.load_svc_model = lambda hp, path, device='cpu': model_files.load_svc_model(hp, path, device, fast=False)
import svc_inference
sys.exit(svc_inference.main(sys.argv[1:]))
"""


def separate_programs(config, model, spk, wave, folder, whisper, hubert, device):
    """The public way: each extractor CLI as its own program, then the plain generator on the
    saved features. Returns [argv] in order."""
    py, feats = sys.executable, os.path.join(folder, "feats")
    os.makedirs(feats, exist_ok=True)
    ppg, vec, pit = (os.path.join(feats, n) for n in ("song.ppg.npy", "song.vec.npy", "song.csv"))
    plain = [py, "-c", PLAIN_GENERATOR.format(root=fixtures.ROOT)] + fixtures.svc_inference_argv(
        config, model, spk, wave, os.path.join(folder, "plain.wav"),
        extra=["--ppg", ppg, "--vec", vec, "--pit", pit, "--device", device, "--seed", "0"])[2:]
    return [[py, os.path.join(fixtures.ROOT, "whisper", "inference.py"), "-w", wave, "-p", ppg,
             "--checkpoint", whisper, "--device", device],
            [py, os.path.join(fixtures.ROOT, "hubert", "inference.py"), "-w", wave, "-v", vec,
             "--checkpoint", hubert, "--device", device],
            [py, os.path.join(fixtures.ROOT, "pitch", "inference.py"), "-w", wave, "-p", pit, "--device", device],
            plain]


def run_all(commands):
    """Run commands one after another -> (total wall, largest peak RSS MiB); stops on a failure."""
    wall, peak = 0.0, 0.0
    for argv in commands:
        seconds, rss = fixtures.run_measured(argv, os.path.basename(argv[1]))
        wall, peak = wall + seconds, max(peak, rss)
    return wall, peak


def run(config, seconds=30.0, full=True, device="cpu", keep=None):
    """Time a `seconds` long WAV through (a) the public way: extractor programs one after another,
    then the plain generator; (b) svc_inference.py; (c) svc_inference.py --fast; each idle and
    beside one busy process (full: Whisper large-v2 dims, HuBERT-Soft; else a 2-layer Whisper of
    the same width and a tiny HuBERT; random weights)."""
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        sizes = "full-size" if full else "SMALL (2-layer Whisper, tiny HuBERT)"
        print(f"end-to-end bench: {config}, {seconds:g} s input, {sizes} random Whisper/HuBERT, "
              f"device {device}, {cpu_cores()} cores, busy = one CPU-bound process beside the run; {load_caveat()}")
        whisper, hubert = fixtures.extractor_checkpoints(folder, "full" if full else "small")
        model, spk = fixtures.generator_files(folder, config)
        wave = fixtures.write_song(os.path.join(folder, "song.wav"), seconds)
        out = os.path.join(folder, "out.wav")
        ours = fixtures.svc_inference_argv(config, model, spk, wave, out, whisper, hubert,
                                           ["--device", device, "--seed", "0"])
        ways = {"separate programs, plain generator (public way)":
                separate_programs(config, model, spk, wave, folder, whisper, hubert, device),
                "svc_inference.py (default: FCPE pitch)": [ours],
                "svc_inference.py --fast": [ours + ["--fast"]]}
        rows = []
        for condition in CONDITIONS:
            with under(condition):
                results = {name: run_all(commands) for name, commands in ways.items()}
            base = next(iter(results.values()))[0]
            for name, (wall, peak) in results.items():
                rows.append([name, condition, wall, wall / seconds, base / wall, f"{peak:.0f}"])
        print_table(["way", "condition", "wall s", "s per s of audio", "vs public way", "peak RSS MiB"], rows)
        print("Wall time includes process starts, loading every checkpoint and writing the outputs; "
              "'vs public way' = its wall / this wall under the same condition (target >= 3x; --fast <= 0.5 s per s idle).")
        return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, default=30.0, help="input length in seconds (default: 30)")
    parser.add_argument("--tiny", action="store_true",
                        help="2-layer Whisper (real width) and tiny HuBERT instead of full size")
    parser.add_argument("--device", default="cpu", help="device passed to svc_inference.py (default: cpu)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary checkpoints (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="short run: 5 s input, small Whisper/HuBERT (as --tiny)")
    args = parser.parse_args(argv)
    seconds, full = (5.0, False) if args.quick else (args.seconds, not args.tiny)
    run(args.config, seconds, full, args.device, args.tmp)


if __name__ == "__main__":
    main()
