"""Peak memory of svc_inference.py converting a 5-minute input (precomputed features), above the weights."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.memory_use import run  # noqa: E402
from bench.models import BASE_CONFIG  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, default=300.0, help="input length in seconds (default: 300)")
    parser.add_argument("--device", default="cpu", help="device passed to svc_inference.py (default: cpu)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary files (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="short run: 30 s input")
    args = parser.parse_args(argv)
    run(args.config, 30.0 if args.quick else args.seconds, args.device, args.tmp)


if __name__ == "__main__":
    main()
