"""Turn the converted audio down wherever the reference (the source singing) is silent.

python svc_inference_post.py --ref test.wav --svc svc_out.wav --out svc_out_post.wav

By default a soft gate: singing and breaths above a floor pass untouched, pauses are turned down
(by --depth-db at most, not to zero) with short fades. --hard-gate restores the old behaviour:
zero wherever no voice is detected.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.cli import cli_main  # noqa: E402
from svc.soft_gate import post_process_files  # noqa: E402

HARD_ONLY = ("periodicity", "hangover_ms", "fade_ms")
SOFT_ONLY = ("depth_db", "release_ms")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="reference audio: the input of the conversion")
    parser.add_argument("--svc", required=True, help="converted audio (svc_inference.py output)")
    parser.add_argument("--out", required=True, help="output audio, same rate as --svc")
    parser.add_argument("--range-db", type=float, default=None,
                        help="frames quieter than the loud frames by more than this are silence "
                             "(dB; default 50 soft, 40 with --hard-gate)")
    parser.add_argument("--floor-db", type=float, default=None,
                        help="frames below this level are always silence (dBFS; default -65 soft, -60 with --hard-gate)")
    soft = parser.add_argument_group("soft gate (default)")
    soft.add_argument("--depth-db", type=float, default=None, help="most a pause is turned down (dB, default 40)")
    soft.add_argument("--release-ms", type=float, default=None, help="how long the gate takes to close (ms, default 80)")
    hard = parser.add_argument_group("hard gate (the old behaviour)")
    hard.add_argument("--hard-gate", action="store_true", help="zero the output wherever no voice is detected")
    hard.add_argument("--periodicity", action="store_true",
                      help="also drop loud stretches without any pitched frame (breaths, clicks, hum)")
    hard.add_argument("--hangover-ms", type=int, default=None, help="keep this long after voice ends (ms, default 150)")
    hard.add_argument("--fade-ms", type=float, default=None, help="fade length at each switch (ms, default 10)")
    return parser


def gate_options(args):
    """The options of the chosen gate; flags of the other one are an error."""
    given = lambda names: [n for n in names if getattr(args, n) not in (None, False)]  # noqa: E731
    wrong = given(SOFT_ONLY if args.hard_gate else HARD_ONLY)
    if wrong:
        flags = ", ".join("--" + n.replace("_", "-") for n in wrong)
        raise ValueError(f"{flags} belong to the {'soft' if args.hard_gate else 'hard'} gate: "
                         f"{'leave out --hard-gate' if args.hard_gate else 'add --hard-gate'} or leave {flags} out.")
    names = ("range_db", "floor_db") + (HARD_ONLY if args.hard_gate else SOFT_ONLY)
    return {n: getattr(args, n) for n in given(names)}


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    post_process_files(args.ref, args.svc, args.out, hard=args.hard_gate, **gate_options(args))
    print(f"{args.svc} -> {args.out}")


if __name__ == "__main__":
    main()
