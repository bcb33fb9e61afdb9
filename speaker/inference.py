"""Speaker d-vector of one audio file: `python speaker/inference.py -w in.wav -s out.spk.npy`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speaker.encoder import SpeakerEncoder  # noqa: E402  (re-exported: `from speaker.inference import SpeakerEncoder`)

__all__ = ["SpeakerEncoder", "main"]


def main(argv=None):
    from common.cli import add_device_argument, report_errors
    from common.extractor import run_one_file
    from common.paths import SPEAKER_CKPT
    from speaker.audio import load_mel

    parser = argparse.ArgumentParser(description="Compute the 256-dim speaker d-vector (float32 .npy) of an audio file.")
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument("-s", "--spk", required=True, help="output .spk.npy path")
    parser.add_argument("--checkpoint", default=SPEAKER_CKPT, help=f"speaker encoder weights (default {SPEAKER_CKPT})")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    return report_errors(run_one_file, lambda: SpeakerEncoder(args.checkpoint, args.device).embed_mel, args.wav,
                         args.spk, "speaker d-vectors", ndim=1, front=load_mel)


if __name__ == "__main__":
    sys.exit(main())
