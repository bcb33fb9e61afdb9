"""Silence the converted audio wherever the reference (the source singing) has no voice.

python svc_inference_post.py --ref test.wav --svc svc_out.wav --out svc_out_post.wav
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from svc.cli import report_errors  # noqa: E402
from svc.vad import post_process_files  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="reference audio: the input of the conversion")
    parser.add_argument("--svc", required=True, help="converted audio (svc_inference.py output)")
    parser.add_argument("--out", required=True, help="output audio, same rate as --svc")
    parser.add_argument("--range-db", type=float, default=40.0,
                        help="frames quieter than the loud frames by more than this are silence (dB)")
    parser.add_argument("--floor-db", type=float, default=-60.0, help="frames below this level are silence (dBFS)")
    parser.add_argument("--periodicity", action="store_true",
                        help="also drop loud stretches without any pitched frame (breaths, clicks, hum)")
    parser.add_argument("--hangover-ms", type=int, default=150, help="keep this long after voice ends (ms)")
    parser.add_argument("--fade-ms", type=float, default=10.0, help="fade length at each switch (ms)")
    args = parser.parse_args(argv)
    report_errors(post_process_files, args.ref, args.svc, args.out, periodicity=args.periodicity,
                  range_db=args.range_db, floor_db=args.floor_db, hangover_ms=args.hangover_ms,
                  fade_ms=args.fade_ms)
    print(f"{args.svc} -> {args.out}")


if __name__ == "__main__":
    main()
