"""Make a new timbre as the weighted mean of speaker vectors.

python svc_eva.py singerA.spk.npy:0.5 singerB.spk.npy:0.5 [-o eva.spk.npy]
python svc_eva.py --yaml weights.yaml [-o eva.spk.npy]     (weights.yaml: `singerA.spk.npy: 0.5` per line)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import cli_main  # noqa: E402
from svc.timbre_mix import parse_weighted_items, read_weight_yaml, write_mix  # noqa: E402


@cli_main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("speakers", nargs="*", help="speaker vectors as FILE:WEIGHT (weights >= 0)")
    parser.add_argument("--yaml", help="YAML mapping speaker file -> weight (added to the FILE:WEIGHT list)")
    parser.add_argument("-o", "--out", default="eva.spk.npy", help="output speaker vector (.spk.npy)")
    args = parser.parse_args(argv)
    pairs = parse_weighted_items(args.speakers)
    if args.yaml:
        pairs += read_weight_yaml(args.yaml)
    for note in write_mix(pairs, args.out):
        print(f"note: {note}")
    print(f"mixed {len(pairs)} speakers -> {args.out}")


if __name__ == "__main__":
    main()
