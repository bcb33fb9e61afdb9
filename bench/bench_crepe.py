"""CREPE pitch extraction speed on CPU: our batched path vs the same network frame by frame."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.crepe_speed import run  # noqa: E402


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
