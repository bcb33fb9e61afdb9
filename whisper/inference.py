"""Whisper PPG of one audio file: `python whisper/inference.py -w in.wav -p out.ppg.npy`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.extractor import one_file_main  # noqa: E402
from common.paths import WHISPER_CKPT  # noqa: E402
from whisper.ppg import WhisperPPG  # noqa: E402  (re-exported: `from whisper.inference import WhisperPPG`)


def main(argv=None):
    return one_file_main(argv, "Extract the Whisper PPG (50 Hz, [frames, dim] float32 .npy) of a file.",
                         ("-p", "--ppg"), ("Whisper", WHISPER_CKPT),
                         lambda args: WhisperPPG(args.checkpoint, args.device, noise=not args.no_noise),
                         "whisper ppg", ndim=2, add_flags=lambda parser: parser.add_argument(
                             "--no-noise", action="store_true",
                             help="do not add the 0.1-std Gaussian noise to the log-mel (deterministic output)"))


if __name__ == "__main__":
    sys.exit(main())
