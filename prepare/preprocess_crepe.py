"""Step 2: `python prepare/preprocess_crepe.py -w data_svc/waves-16k/ -p data_svc/pitch`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402

build_parser, main = cli_args.feature_script(
    "pitch", "Training-mode F0 (Hz, 100 Hz frames, 0 = unvoiced) of every 16 kHz wave, as <name>.pit.npy.",
    cli_args.wave_folders(("-p", "--pit"), "./data_svc/pitch"), cli_args.add_pitch)

if __name__ == "__main__":
    sys.exit(report_errors(main))
