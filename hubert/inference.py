"""HuBERT-Soft units of one audio file: `python hubert/inference.py -w in.wav -v out.vec.npy`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hubert.units import HubertSoft  # noqa: E402  (re-exported: `from hubert.inference import HubertSoft`)

__all__ = ["HubertSoft", "main"]


def main(argv=None):
    from common.audio import AudioError
    from common.checkpoint import CheckpointError
    from common.paths import HUBERT_CKPT

    parser = argparse.ArgumentParser(description="Extract HuBERT-Soft units (50 Hz, [frames, 256] float32 .npy) of a file.")
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument("-v", "--vec", required=True, help="output .vec.npy path")
    parser.add_argument("--checkpoint", default=HUBERT_CKPT, help=f"HuBERT-Soft weights (default {HUBERT_CKPT})")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    args = parser.parse_args(argv)
    try:
        report = HubertSoft(args.checkpoint, args.device).extract_files(
            [args.wav], [args.vec], skip_existing=False, progress=False)
    except (CheckpointError, AudioError, RuntimeError) as e:
        sys.exit(f"error: {e}")
    report.print_summary()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
