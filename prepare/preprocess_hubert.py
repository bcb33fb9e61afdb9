"""Step 4: `python prepare/preprocess_hubert.py -w data_svc/waves-16k/ -v data_svc/hubert`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_device_argument, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.features import hubert_step  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="HuBERT-Soft units ([frames, 256] float32, 50 Hz) of every "
                                                 "16 kHz wave, as <name>.vec.npy.")
    parser.add_argument("-w", "--wav", default="./data_svc/waves-16k",
                        help="folder of 16 kHz waves <folder>/<speaker>/<name>.wav (default ./data_svc/waves-16k)")
    parser.add_argument("-v", "--vec", default="./data_svc/hubert", help="output folder (default ./data_svc/hubert)")
    cli_args.add_hubert(parser)
    add_device_argument(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    step = hubert_step(args.hubert_checkpoint, args.device)
    return cli_args.run_feature_step(step, args.wav, args.vec, args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
