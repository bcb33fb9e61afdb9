"""Step 6: `python prepare/preprocess_speaker_ave.py data_svc/speaker/ data_svc/singer`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from prepare import cli_args  # noqa: E402
from prepare.jobs import StepError  # noqa: E402
from prepare.singer import speaker_means  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Mean timbre per speaker: the average of its clips' speaker "
                                                 "vectors, written as <singer folder>/<speaker>.spk.npy.")
    parser.add_argument("dataset_speaker", help="folder of per-clip vectors <folder>/<speaker>/<name>.spk.npy")
    parser.add_argument("dataset_singer", help="output folder of <speaker>.spk.npy")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        report = speaker_means(args.dataset_speaker, args.dataset_singer)
    except StepError as e:
        return cli_args.fail(e)
    return cli_args.finish(report)


if __name__ == "__main__":
    sys.exit(main())
