"""Step 4: `python prepare/preprocess_hubert.py -w data_svc/waves-16k/ -v data_svc/hubert`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402

build_parser, main = cli_args.feature_script(
    "hubert", "HuBERT-Soft units ([frames, 256] float32, 50 Hz) of every 16 kHz wave, as <name>.vec.npy.",
    cli_args.wave_folders(("-v", "--vec"), "./data_svc/hubert"), cli_args.add_hubert)

if __name__ == "__main__":
    sys.exit(report_errors(main))
