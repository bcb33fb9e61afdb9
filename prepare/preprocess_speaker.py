"""Step 5: `python prepare/preprocess_speaker.py data_svc/waves-16k/ data_svc/speaker`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_device_argument, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.features import speaker_step  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Speaker d-vector ([256] float32) of every 16 kHz wave, "
                                                 "as <name>.spk.npy.")
    parser.add_argument("dataset_path", help="folder of 16 kHz waves <folder>/<speaker>/<name>.wav")
    parser.add_argument("output_path", help="output folder of <speaker>/<name>.spk.npy")
    cli_args.add_speaker(parser)
    add_device_argument(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    step = speaker_step(args.speaker_checkpoint, args.device)
    return cli_args.run_feature_step(step, args.dataset_path, args.output_path, args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
