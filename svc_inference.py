"""Convert a song to another singer's voice (32 kHz, 16-bit WAV).

python svc_inference.py --config configs/base.yaml --model sovits5.0.pth --spk singer.spk.npy --wave test.wav
    [--ppg test.ppg.npy] [--vec test.vec.npy] [--pit test.csv] [--shift 0] [--out svc_out.wav] [--device auto]
Features not given are extracted from --wave in-process.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.paths import HUBERT_CKPT, WHISPER_CKPT  # noqa: E402
from svc.cli import report_errors  # noqa: E402
from svc.convert import ExtractorSettings  # noqa: E402
from svc.convert_file import convert_file  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/base.yaml", help="config the model was trained with")
    parser.add_argument("--model", required=True, help="exported model (sovits5.0.pth) or training checkpoint (.pt)")
    parser.add_argument("--spk", required=True, help="target singer vector (.spk.npy)")
    parser.add_argument("--wave", required=True, help="input audio (any format and rate)")
    parser.add_argument("--ppg", help="Whisper PPG of --wave (.ppg.npy); extracted when left out")
    parser.add_argument("--vec", help="HuBERT-Soft units of --wave (.vec.npy); extracted when left out")
    parser.add_argument("--pit", help="pitch CSV of --wave (pitch/inference.py output, may be edited); extracted when left out")
    parser.add_argument("--shift", type=float, default=0.0, help="transpose by this many semitones (e.g. 12, -5)")
    parser.add_argument("--out", default="svc_out.wav", help="output WAV (32 kHz, 16-bit)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--whisper-checkpoint", default=WHISPER_CKPT, help="Whisper weights for PPG extraction")
    parser.add_argument("--hubert-checkpoint", default=HUBERT_CKPT, help="HuBERT-Soft weights for unit extraction")
    parser.add_argument("--pitch-method", default="crepe", help="pitch extractor when --pit is left out (crepe, ...)")
    parser.add_argument("--crepe-model", default="full", help="CREPE size: full or tiny")
    parser.add_argument("--no-noise", action="store_true",
                        help="no Whisper dither and prior at its mean (with --seed: repeatable output)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random noise (NSF source, prior)")
    parser.add_argument("--chunk-seconds", type=float, default=25.0, help="longest piece converted at once")
    parser.add_argument("--overlap-seconds", type=float, default=1.0, help="crossfade between pieces")
    args = parser.parse_args(argv)
    extractors = ExtractorSettings(args.whisper_checkpoint, args.hubert_checkpoint, args.pitch_method, args.crepe_model)
    report_errors(convert_file, args.config, args.model, args.spk, args.wave, args.out, ppg=args.ppg, vec=args.vec,
                  pit=args.pit, shift=args.shift, device=args.device, extractors=extractors, seed=args.seed,
                  no_noise=args.no_noise, chunk_seconds=args.chunk_seconds, overlap_seconds=args.overlap_seconds)
    print(f"{args.wave} -> {args.out}")


if __name__ == "__main__":
    main()
