"""Whisper PPG of one audio file: `python whisper/inference.py -w in.wav -p out.ppg.npy`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from whisper.ppg import WhisperPPG  # noqa: E402  (re-exported: `from whisper.inference import WhisperPPG`)

__all__ = ["WhisperPPG", "main"]


def main(argv=None):
    from common.cli import add_device_argument, report_errors
    from common.extractor import run_one_file
    from common.paths import WHISPER_CKPT

    parser = argparse.ArgumentParser(description="Extract the Whisper PPG (50 Hz, [frames, dim] float32 .npy) of a file.")
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument("-p", "--ppg", required=True, help="output .ppg.npy path")
    parser.add_argument("--checkpoint", default=WHISPER_CKPT, help=f"Whisper weights (default {WHISPER_CKPT})")
    add_device_argument(parser)
    parser.add_argument("--no-noise", action="store_true",
                        help="do not add the 0.1-std Gaussian noise to the log-mel (deterministic output)")
    args = parser.parse_args(argv)
    load = lambda: WhisperPPG(args.checkpoint, args.device, noise=not args.no_noise)  # noqa: E731
    return report_errors(run_one_file, load, args.wav, args.ppg, "whisper ppg", ndim=2)


if __name__ == "__main__":
    sys.exit(main())
