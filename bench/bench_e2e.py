"""End-to-end svc_inference.py on a 30 s song with full-size random-weight extractors: time and memory."""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.models import BASE_CONFIG  # noqa: E402
from bench.timing import cpu_cores, load_caveat, print_table  # noqa: E402


def run(config, seconds=30.0, full=True, device="cpu", keep=None):
    """Time one svc_inference.py run on a `seconds` long WAV with random-weight checkpoints
    (full: Whisper large-v2 dims, HuBERT-Soft; else a 2-layer Whisper of the same width and a tiny
    HuBERT; CREPE full either way)."""
    fixtures.require_svc_inference()
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        sizes = "full-size" if full else "SMALL (2-layer Whisper, tiny HuBERT)"
        print(f"end-to-end bench: {config}, {seconds:g} s input, {sizes} random Whisper/HuBERT, CREPE full, "
              f"device {device}, {cpu_cores()} cores; {load_caveat()}")
        whisper, hubert = fixtures.extractor_checkpoints(folder, full)
        model, spk = fixtures.generator_files(folder, config)
        wave = fixtures.write_song(os.path.join(folder, "song.wav"), seconds)
        out = os.path.join(folder, "out.wav")
        argv = fixtures.svc_inference_argv(config, model, spk, wave, out, whisper, hubert,
                                           ["--device", device, "--seed", "0"])
        code, wall, peak, tail = fixtures.run_measured(argv)
        if code != 0:
            print(tail)
            raise SystemExit(f"svc_inference.py failed with exit code {code}")
        rows = [[f"{seconds:g}", wall, wall / seconds, f"{peak:.0f}", f"{os.path.getsize(out) / 2 ** 20:.1f}"]]
        print_table(["input s", "wall s", "wall per s of audio", "peak RSS MiB", "output MiB"], rows)
        print("Wall time includes process start, loading every checkpoint and writing the output.")
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
    if args.quick:
        run(args.config, 5.0, False, args.device, args.tmp)
    else:
        run(args.config, args.seconds, not args.tiny, args.device, args.tmp)


if __name__ == "__main__":
    main()
