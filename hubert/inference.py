"""HuBERT-Soft units of one audio file: `python hubert/inference.py -w in.wav -v out.vec.npy`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.extractor import one_file_main  # noqa: E402
from common.paths import HUBERT_CKPT  # noqa: E402
from hubert.units import HubertSoft  # noqa: E402  (re-exported: `from hubert.inference import HubertSoft`)


def main(argv=None):
    return one_file_main(argv, "Extract HuBERT-Soft units (50 Hz, [frames, 256] float32 .npy) of a file.",
                         ("-v", "--vec"), ("HuBERT-Soft", HUBERT_CKPT),
                         lambda args: HubertSoft(args.checkpoint, args.device), "hubert units", ndim=2)


if __name__ == "__main__":
    sys.exit(main())
