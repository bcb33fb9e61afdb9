"""Step 3: `python prepare/preprocess_ppg.py -w data_svc/waves-16k/ -p data_svc/whisper`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402

build_parser, main = cli_args.feature_script(
    "ppg", "Whisper PPG ([frames, dim] float32, 50 Hz) of every 16 kHz wave, as <name>.ppg.npy.",
    cli_args.wave_folders(("-p", "--ppg"), "./data_svc/whisper"), cli_args.add_whisper)

if __name__ == "__main__":
    sys.exit(report_errors(main))
