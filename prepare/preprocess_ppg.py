"""Step 3: `python prepare/preprocess_ppg.py -w data_svc/waves-16k/ -p data_svc/whisper`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_device_argument, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.features import ppg_step  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Whisper PPG ([frames, dim] float32, 50 Hz) of every 16 kHz "
                                                 "wave, as <name>.ppg.npy.")
    parser.add_argument("-w", "--wav", default="./data_svc/waves-16k",
                        help="folder of 16 kHz waves <folder>/<speaker>/<name>.wav (default ./data_svc/waves-16k)")
    parser.add_argument("-p", "--ppg", default="./data_svc/whisper", help="output folder (default ./data_svc/whisper)")
    cli_args.add_whisper(parser)
    add_device_argument(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    step = ppg_step(args.whisper_checkpoint, args.device, args.whisper_noise)
    return cli_args.run_feature_step(step, args.wav, args.ppg, args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
