"""Step 5: `python prepare/preprocess_speaker.py data_svc/waves-16k/ data_svc/speaker`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.cli import report_errors  # noqa: E402
from prepare import cli_args  # noqa: E402

build_parser, main = cli_args.feature_script(
    "speaker", "Speaker d-vector ([256] float32) of every 16 kHz wave, as <name>.spk.npy.",
    [(("dataset_path",), dict(help="folder of 16 kHz waves <folder>/<speaker>/<name>.wav")),
     (("output_path",), dict(help="output folder of <speaker>/<name>.spk.npy"))],
    cli_args.add_speaker)

if __name__ == "__main__":
    sys.exit(report_errors(main))
