"""End-to-end svc_inference.py on a 30 s song with full-size random-weight extractors: time and memory."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.e2e_speed import run  # noqa: E402
from bench.models import BASE_CONFIG  # noqa: E402


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
