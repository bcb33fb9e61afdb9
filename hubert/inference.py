"""HuBERT-Soft units of one audio file: `python hubert/inference.py -w in.wav -v out.vec.npy`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hubert.units import HubertSoft  # noqa: E402  (re-exported: `from hubert.inference import HubertSoft`)

__all__ = ["HubertSoft", "main"]


def main(argv=None):
    from common.cli import add_device_argument, report_errors
    from common.extractor import run_one_file
    from common.paths import HUBERT_CKPT

    parser = argparse.ArgumentParser(description="Extract HuBERT-Soft units (50 Hz, [frames, 256] float32 .npy) of a file.")
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument("-v", "--vec", required=True, help="output .vec.npy path")
    parser.add_argument("--checkpoint", default=HUBERT_CKPT, help=f"HuBERT-Soft weights (default {HUBERT_CKPT})")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    return report_errors(run_one_file, lambda: HubertSoft(args.checkpoint, args.device), args.wav, args.vec,
                         "hubert units", ndim=2)


if __name__ == "__main__":
    sys.exit(main())
