"""Measure conversions: which checkpoint and which setting keeps the melody, reaches the singer, stays clean.

  python svc_eval.py --config configs/base.yaml --model chkpt/a/a_0100.pt chkpt/a/a_0120.pt
      --spk data_svc/singer/alice.spk.npy --wave songs/ [more.wav ...]
      [--retrieval-ratio 0 0.5] [--shift 0 12] [--out eval_out/]

Every input is converted with every model and every setting (each --retrieval-ratio x each --shift),
each model loaded once, each input's features extracted once. Written to --out: results.csv (one row
per output), summary.json (means per model/setting, rank, best per metric), summary.png (bar charts);
the table of means is printed, best rank first.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT  # noqa: E402
from common.cli import add_device_argument, cli_main  # noqa: E402
from svc.eval_report import metrics_help  # noqa: E402
from svc.evaluate import run_eval  # noqa: E402
from svc.retrieval import BACKENDS  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="metrics (means per model/setting in the table; rank = mean place over "
                                            "the metrics with a better direction):\n" + metrics_help())
    parser.add_argument("--config", default="configs/base.yaml", help="config the models were trained with")
    parser.add_argument("--model", required=True, nargs="+",
                        help="exported models (.pth) and/or training checkpoints (.pt) to compare")
    parser.add_argument("--spk", required=True, help="target singer vector (.spk.npy)")
    parser.add_argument("--wave", required=True, nargs="+", help="input songs: files and/or folders of audio files")
    parser.add_argument("--shift", type=float, nargs="+", default=[0.0], help="transpositions in semitones to try")
    parser.add_argument("--retrieval-ratio", type=float, nargs="+", default=[0.0],
                        help="feature-retrieval ratios to try (0 = none; > 0 needs the singer's indexes)")
    parser.add_argument("--out", default="eval_out", help="folder for results.csv, summary.json, summary.png")
    parser.add_argument("--target-wave", nargs="+", default=None,
                        help="target singer's audio (files/folders; first 20 files) for the GE2E target vector "
                             "(default <data-svc>/waves-16k/<singer>/ when it exists, else ge2e_sim is left out)")
    parser.add_argument("--ge2e", choices=("auto", "on", "off"), default="auto",
                        help="GE2E timbre judge (resemblyzer): auto = when installed")
    parser.add_argument("--dnsmos", choices=("auto", "on", "off"), default="auto",
                        help="DNSMOS quality judge (speechmos): auto = when installed")
    add_device_argument(parser)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"),
                        help="model arithmetic: fp32, or bf16/fp16 autocast on CUDA (compare runs to see what it costs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (dither, NSF source, prior)")
    parser.add_argument("--no-noise", action="store_true", help="no Whisper dither and prior at its mean")
    parser.add_argument("--keep-audio", action="store_true",
                        help="also write every output to <out>/audio/<model>/<setting>/<input>.wav")
    parser.add_argument("--whisper-checkpoint", default=WHISPER_CKPT, help="Whisper weights (PPG)")
    parser.add_argument("--hubert-checkpoint", default=HUBERT_CKPT, help="HuBERT-Soft weights (units)")
    parser.add_argument("--speaker-checkpoint", default=SPEAKER_CKPT, help="speaker encoder weights (d-vectors)")
    parser.add_argument("--pitch-method", default="crepe", help="pitch tracker for input and output F0 (crepe, ...)")
    parser.add_argument("--crepe-model", default="full", help="CREPE size: full or tiny")
    group = parser.add_argument_group("feature retrieval (for --retrieval-ratio > 0)")
    group.add_argument("--retrieval-mode", choices=("index", "kmeans"), default="index",
                       help="nearest training frames (index) or nearest k-means centres (kmeans)")
    group.add_argument("--n-retrieval-vectors", type=int, default=3, help="neighbours averaged per frame")
    group.add_argument("--hubert-index-path", help="HuBERT index/codebook (default <data-svc>/indexes/<singer>/)")
    group.add_argument("--whisper-index-path", help="PPG index/codebook (default <data-svc>/indexes/<singer>/)")
    group.add_argument("--retrieval-singer", help="singer whose indexes are used (default: the --spk file name)")
    group.add_argument("--data-svc", default="data_svc", help="prepared data folder (indexes/, waves-16k/)")
    group.add_argument("--retrieval-backend", default="auto", choices=BACKENDS, help="nearest-neighbour search")
    return parser


@cli_main
def main(argv=None):
    return run_eval(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
