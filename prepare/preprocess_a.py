"""Step 1: `python prepare/preprocess_a.py -w ./dataset_raw -o ./data_svc/waves-16k -s 16000`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import fail, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.clip_pieces import DEFAULT_PEAK  # noqa: E402
from prepare.resample import resample_dataset  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Resample raw clips to mono, levelled 16-bit WAV; recordings longer "
                                                 "than --slice-seconds are cut at their pauses into <name>_000.wav, ... "
                                                 "Existing outputs are kept; bad clips are skipped and listed.")
    parser.add_argument("-w", "--wav", default="./dataset_raw",
                        help="raw dataset folder <folder>/<speaker>/<clip>.wav|flac|ogg|mp3 (default ./dataset_raw)")
    parser.add_argument("-o", "--out", required=True, help="output folder, e.g. ./data_svc/waves-16k")
    parser.add_argument("-s", "--sr", type=int, required=True, help="output sample rate: 16000 or 32000")
    parser.add_argument("--min-seconds", type=float, default=0.5,
                        help="clips shorter than this are skipped with a reason (default 0.5)")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="with --no-slice, longer clips get a warning that slicing is recommended (default 30)")
    parser.add_argument("--peak", type=float, default=DEFAULT_PEAK,
                        help=f"peak level after normalisation, as a fraction of full scale (default {DEFAULT_PEAK})")
    cli_args.add_clip_options(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.sr <= 0 or not 0 < args.peak <= 1:
        return fail("-s must be a positive rate and --peak in (0, 1]")
    try:
        clip = cli_args.clip_options(args)
    except ValueError as e:
        return fail(e)
    return cli_args.run_in_pool(lambda pool: resample_dataset(
        args.wav, [(args.out, args.sr)], pool=pool, min_seconds=args.min_seconds, max_seconds=args.max_seconds,
        clip=clip), args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
