"""Step 9: `python prepare/preprocess_zzz.py`: would training break on files/train.txt and valid.txt?"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_config_argument, report_errors  # noqa: E402
from common.config import load_config  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Check every item of the training lists (files, widths, "
                                                 "lengths, NaN/inf, values no extractor produces, too short), then run them through the "
                                                 "training dataset, sampler and collate. Exit 1 when "
                                                 "something would break training.")
    parser.add_argument("lists", nargs="*", default=["files/train.txt", "files/valid.txt"],
                        help="list files to check (default files/train.txt files/valid.txt)")
    add_config_argument(parser)
    parser.add_argument("--files-only", action="store_true",
                        help="only check the files directly; skip the pass through vits.data_utils")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from prepare.check import check_lists

    result = check_lists(args.lists, load_config(args.config), with_dataset=not args.files_only)
    print(result.summary(), file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(report_errors(main))
