"""Every preprocessing step in order, raw clips -> data_svc/ -> files/: `python svc_preprocessing.py -t 2`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import add_config_argument, add_device_argument, fail, report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.pipeline import STEPS, Options, Pipeline, parse_steps  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(
        description="Preprocess a singing dataset for training, all steps in one process: "
                    + ", ".join(f"{i} {s}" for i, s in enumerate(STEPS, start=1))
                    + ". Finished outputs are skipped, so an interrupted run can simply be started again.")
    parser.add_argument("-w", "--dataset", default="./dataset_raw",
                        help="raw dataset folder: <folder>/<speaker>/<clip>.wav|flac|ogg|mp3 (default ./dataset_raw)")
    parser.add_argument("-o", "--data-svc", default="./data_svc",
                        help="where the features go: waves-16k, waves-32k, pitch, whisper, hubert, speaker, singer, "
                             "specs (default ./data_svc)")
    parser.add_argument("--files", default="./files", help="folder of train.txt and valid.txt (default ./files)")
    cli_args.add_workers(parser)
    add_device_argument(parser)
    add_config_argument(parser)
    parser.add_argument("--steps", default="1-9",
                        help="steps to run, by number or name, e.g. '1-5', '7,8' or 'spec,filelist' (default 1-9)")
    parser.add_argument("--skip", default="", help="steps to leave out, same form as --steps (e.g. '9' or 'check')")
    cli_args.add_pitch(parser)
    cli_args.add_whisper(parser)
    cli_args.add_hubert(parser)
    cli_args.add_speaker(parser)
    parser.add_argument("--singer-mean", action="store_true",
                        help="list each speaker's mean timbre (data_svc/singer/<speaker>.spk.npy) instead of "
                             "the per-clip speaker vectors")
    parser.add_argument("--min-seconds", type=float, default=0.5,
                        help="clips shorter than this are skipped with a reason (default 0.5)")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="with --no-slice, clips longer than this are processed in chunks with a warning "
                             "that slicing is recommended (default 30)")
    cli_args.add_clip_options(parser)
    parser.add_argument("--valid", type=int, default=10,
                        help="clips held out for validation when there are plenty (default 10; at least 1 "
                             "from 2 clips on, at most one in ten)")
    parser.add_argument("--seed", type=int, default=1234, help="seed of the train/valid shuffle (default 1234)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        opts = Options.from_flags(args, steps=parse_steps(args.steps, args.skip), clip=cli_args.clip_options(args))
    except ValueError as e:
        return fail(e)
    return Pipeline(opts).run()


if __name__ == "__main__":
    sys.exit(report_errors(main))
