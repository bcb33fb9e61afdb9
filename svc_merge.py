"""Merge two SVC models: rate * model1 + (1 - rate) * model2.

python svc_merge.py --model1 A.pth --model2 B.pth --rate 0.4 [--out sovits5.0_merge.pth]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import cli_main  # noqa: E402
from svc.merge import merge_models  # noqa: E402


@cli_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m1", "--model1", required=True, help="first model (exported .pth or training .pt)")
    parser.add_argument("-m2", "--model2", required=True, help="second model, same architecture and config")
    parser.add_argument("-r1", "--rate", type=float, required=True, help="share of model1 in [0, 1]")
    parser.add_argument("--out", default="sovits5.0_merge.pth", help="merged model file (written atomically)")
    args = parser.parse_args(argv)
    # merge_models checks the rate before reading either file
    for note in merge_models(args.model1, args.model2, args.rate, args.out):
        print(f"note: {note}")
    print(f"merged {args.rate:g} x {args.model1} + {1 - args.rate:g} x {args.model2} -> {args.out}")


if __name__ == "__main__":
    main()
