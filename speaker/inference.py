"""Speaker d-vector of one audio file: `python speaker/inference.py -w in.wav -s out.spk.npy`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common.extractor import one_file_main  # noqa: E402
from common.paths import SPEAKER_CKPT  # noqa: E402
from speaker.audio import load_mel  # noqa: E402
from speaker.encoder import SpeakerEncoder  # noqa: E402  (re-exported: `from speaker.inference import SpeakerEncoder`)


def main(argv=None):
    return one_file_main(argv, "Compute the 256-dim speaker d-vector (float32 .npy) of an audio file.",
                         ("-s", "--spk"), ("speaker encoder", SPEAKER_CKPT),
                         lambda args: SpeakerEncoder(args.checkpoint, args.device).embed_mel, "speaker d-vectors",
                         ndim=1, front=load_mel)


if __name__ == "__main__":
    sys.exit(main())
