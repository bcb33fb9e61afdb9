"""Step 8: `python prepare/preprocess_train.py` -> files/train.txt, files/valid.txt."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import fail, report_errors  # noqa: E402
from prepare.filelist import write_filelists  # noqa: E402
from prepare.jobs import StepError  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Write the training and validation lists "
                                                 "(wave|spec|pitch|hubert|whisper|spk per line). Clips with a "
                                                 "missing feature are listed on stderr and left out.")
    parser.add_argument("-d", "--data-svc", default="./data_svc", help="feature root (default ./data_svc)")
    parser.add_argument("-o", "--out", default="./files",
                        help="output folder of train.txt and valid.txt (default ./files)")
    parser.add_argument("--singer-mean", action="store_true",
                        help="use each speaker's mean timbre (<data-svc>/singer/<speaker>.spk.npy) instead of "
                             "the per-clip vectors")
    parser.add_argument("--valid", type=int, default=10,
                        help="clips held out for validation when there are plenty (default 10; at least 1 from "
                             "2 clips on, at most one in ten)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the shuffle (default 1234)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        report = write_filelists(args.data_svc, args.out, singer_mean=args.singer_mean, wanted_valid=args.valid,
                                 seed=args.seed)
    except StepError as e:
        return fail(e)
    report.print_summary()
    print(f"{report.n_train} train, {report.n_valid} valid in {args.out}", file=sys.stderr)
    return 0 if report.n_train + report.n_valid else 1


if __name__ == "__main__":
    sys.exit(report_errors(main))
