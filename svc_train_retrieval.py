"""Build per-singer feature-retrieval indexes (HuBERT units, Whisper PPG) for timbre-leak control."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import cli_main  # noqa: E402
from svc.retrieval import BACKENDS  # noqa: E402
from svc.retrieval_build import DEFAULT_CODEBOOK_SIZE, FRAMES_PER_CENTRE, build_singer_indexes  # noqa: E402


@cli_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-s", "--singer", action="append",
                        help="singer (speaker folder name) to index; repeat for several; default: every singer")
    parser.add_argument("--data", default="data_svc",
                        help="prepared data folder holding hubert/<singer>/ and whisper/<singer>/ (default: data_svc)")
    parser.add_argument("--out", default=None, help="output folder for <singer>/*.index (default: <data>/indexes)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="search backend checked after building: faiss when installed, else sklearn (auto)")
    parser.add_argument("--float16", action="store_true", help="store training frames as float16 (half the disk space)")
    parser.add_argument("--max-frames", type=int, default=0,
                        help="keep at most this many random frames per index (0 = all)")
    parser.add_argument("--kmeans", action="store_true",
                        help="also train a k-means codebook per singer and feature (<kind>.codebook.npy), "
                             "with a progress bar over its batches")
    parser.add_argument("--codebook-size", type=int, default=DEFAULT_CODEBOOK_SIZE,
                        help=f"k-means centres per codebook, but never more than one per {FRAMES_PER_CENTRE} frames "
                             f"(default: {DEFAULT_CODEBOOK_SIZE}; the summary says how many were written)")
    parser.add_argument("--force", action="store_true", help="rebuild indexes and codebooks that already exist")
    args = parser.parse_args(argv)
    report = build_singer_indexes(args.data, args.out, singers=args.singer, backend=args.backend,
                                  dtype="float16" if args.float16 else "float32", kmeans=args.kmeans,
                                  codebook_size=args.codebook_size, max_frames=args.max_frames, force=args.force)
    report.print_summary()


if __name__ == "__main__":
    main()
