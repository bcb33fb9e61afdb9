"""Step 2: `python prepare/preprocess_crepe.py -w data_svc/waves-16k/ -p data_svc/pitch`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_device_argument, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.features import pitch_step  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Training-mode F0 (Hz, 100 Hz frames, 0 = unvoiced) of every "
                                                 "16 kHz wave, as <name>.pit.npy.")
    parser.add_argument("-w", "--wav", default="./data_svc/waves-16k",
                        help="folder of 16 kHz waves <folder>/<speaker>/<name>.wav (default ./data_svc/waves-16k)")
    parser.add_argument("-p", "--pit", default="./data_svc/pitch", help="output folder (default ./data_svc/pitch)")
    cli_args.add_pitch(parser)
    add_device_argument(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    step = pitch_step(args.pitch_method, args.crepe_model, args.device)
    return cli_args.run_feature_step(step, args.wav, args.pit, args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
