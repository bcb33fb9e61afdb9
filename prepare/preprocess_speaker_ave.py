"""Step 6: `python prepare/preprocess_speaker_ave.py data_svc/speaker/ data_svc/singer`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import fail, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.jobs import StepError  # noqa: E402
from prepare.singer import singer_ranges, speaker_means  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Mean timbre per speaker: the average of its clips' speaker "
                                                 "vectors, written as <singer folder>/<speaker>.spk.npy; and its F0 "
                                                 "range (for svc_inference.py --auto-shift) as <speaker>.f0.json.")
    parser.add_argument("dataset_speaker", help="folder of per-clip vectors <folder>/<speaker>/<name>.spk.npy")
    parser.add_argument("dataset_singer", help="output folder of <speaker>.spk.npy")
    parser.add_argument("--pitch", default=None,
                        help="folder of training pitch <folder>/<speaker>/<name>.pit.npy for the F0 ranges "
                             "(default: pitch/ beside the speaker folder; skipped when it does not exist)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    pitch = args.pitch or os.path.join(os.path.dirname(os.path.abspath(args.dataset_speaker)), "pitch")
    try:
        report = speaker_means(args.dataset_speaker, args.dataset_singer)
        if args.pitch or os.path.isdir(pitch):
            singer_ranges(pitch, args.dataset_singer).print_summary()
    except StepError as e:
        return fail(e)
    return cli_args.finish(report)


if __name__ == "__main__":
    sys.exit(report_errors(main))
