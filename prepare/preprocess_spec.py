"""Step 7: `python prepare/preprocess_spec.py -w data_svc/waves-32k/ -s data_svc/specs`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import add_config_argument, report_errors  # noqa: E402
from common.config import load_config  # noqa: E402
from prepare import cli_args  # noqa: E402
from prepare.specs import spec_dataset  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description="Linear magnitude spectrograms (<name>.pt, [n_fft/2+1, frames], "
                                                 "100 Hz) of the 32 kHz waves, as the posterior encoder reads them.")
    parser.add_argument("-w", "--wav", default="./data_svc/waves-32k",
                        help="folder of 32 kHz waves <folder>/<speaker>/<name>.wav (default ./data_svc/waves-32k)")
    parser.add_argument("-s", "--spe", default="./data_svc/specs", help="output folder (default ./data_svc/specs)")
    add_config_argument(parser)
    cli_args.add_workers(parser)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    hp = load_config(args.config)
    return cli_args.run_in_pool(lambda pool: spec_dataset(args.wav, args.spe, hp.data, pool=pool), args.workers)


if __name__ == "__main__":
    sys.exit(report_errors(main))
