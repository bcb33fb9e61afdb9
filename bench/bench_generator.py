"""Generator conversion speed (configs/base.yaml sizes, random weights): fast path vs plain path."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.generator_speed import run  # noqa: E402
from bench.models import BASE_CONFIG  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0],
                        help="input lengths in seconds of audio (default: 10 60)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path, median taken (default: 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 and 4 seconds, 1 repeat")
    args = parser.parse_args(argv)
    seconds, repeats = ([2.0, 4.0], 1) if args.quick else (args.seconds, args.repeats)
    run(args.config, seconds, repeats, args.device, args.threads)


if __name__ == "__main__":
    main()
