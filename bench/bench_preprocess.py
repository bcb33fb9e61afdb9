"""Preprocessing throughput (clips per minute) of the whole svc_preprocessing.py pipeline, -t 1 vs -t 2."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.preprocess_speed import run  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="-t values to compare (default: 1 2)")
    parser.add_argument("--speakers", type=int, default=2, help="speakers in the synthetic dataset (default: 2)")
    parser.add_argument("--clips", type=int, default=4, help="clips per speaker (default: 4)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip (default: 4)")
    parser.add_argument("--full", action="store_true",
                        help="full-size random checkpoints, base config and CREPE full (default: tiny ones)")
    parser.add_argument("--device", default="cpu", help="--device for svc_preprocessing.py (default: cpu)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary dataset (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 speakers x 2 clips of 2 s, tiny")
    args = parser.parse_args(argv)
    if args.quick:
        run(args.threads, 2, 2, 2.0, False, args.device, args.tmp)
    else:
        run(args.threads, args.speakers, args.clips, args.seconds, args.full, args.device, args.tmp)


if __name__ == "__main__":
    main()
