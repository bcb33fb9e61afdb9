"""Training step time at configs/base.yaml sizes (random weights): the trainer's step vs variants."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.models import BASE_CONFIG  # noqa: E402
from bench.train_speed import run  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--batch", type=int, nargs="+", default=[2, 8], help="batch sizes (default: 2 8)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="clip length in seconds (default: 4, train.max_seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant, median taken (default: 3)")
    parser.add_argument("--device", default="auto",
                        help="auto, cpu, cuda or cuda:N (default: auto; CUDA adds CPU rows)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="short run: batch 2, 1-second clips, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        run(args.config, [2], 1.0, 1, args.device, args.threads, cpu_too=False)
    else:
        run(args.config, args.batch, args.seconds, args.repeats, args.device, args.threads)


if __name__ == "__main__":
    main()
