"""Local web app: convert a song to a singer and fix its pitch in the browser.

Open http://127.0.0.1:7860/ : choose a model (exported .pth or training .pt), a singer (.spk.npy)
and a song (upload, or a path inside --audio-dir), convert, listen and download. The pitch editor
shows the song's spectrogram with its pitch curve: move, draw, snap or silence spans, save and
load the pitch CSV that Excel edits, and convert again with the edited pitch (the content
features are reused, not extracted again). **Evaluate** measures the result as svc_eval.py does
(pitch kept against the edited pitch, timbre reached and leaked, words kept, quality, loudness).
The page reads files only inside the given folders.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT  # noqa: E402
from common.cli import add_device_argument, report_errors  # noqa: E402
from svc.webui.app import run_webui  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it "
                             "to the network)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free port)")
    parser.add_argument("--config", default="configs/base.yaml",
                        help="config the models were trained with (default configs/base.yaml)")
    parser.add_argument("--model-dir", action="append", default=None,
                        help="folder of models the page may use, searched 3 levels deep for .pth/.pt "
                             "(repeatable; default: . and chkpt)")
    parser.add_argument("--singer-dir", action="append", default=None,
                        help="folder of singer vectors (.spk.npy) the page may use (repeatable; default "
                             "data_svc/singer; .spk.npy files in the model and audio folders are allowed too)")
    parser.add_argument("--audio-dir", action="append", default=[],
                        help="folder whose audio files the page may open by path (repeatable; default none: "
                             "upload files instead)")
    parser.add_argument("--data-svc", default="data_svc", help="prepared data folder holding indexes/ for retrieval")
    add_device_argument(parser)
    parser.add_argument("--whisper-checkpoint", default=WHISPER_CKPT, help="Whisper weights for PPG extraction")
    parser.add_argument("--hubert-checkpoint", default=HUBERT_CKPT, help="HuBERT-Soft weights for unit extraction")
    parser.add_argument("--chunk-seconds", type=float, default=25.0, help="longest piece converted at once")
    parser.add_argument("--overlap-seconds", type=float, default=1.0, help="crossfade between pieces")
    parser.add_argument("--speaker-checkpoint", default=SPEAKER_CKPT,
                        help="speaker encoder of the evaluation panel (timbre reached / leaked)")
    parser.add_argument("--eval-judges", default="auto", choices=("auto", "on", "off"),
                        help="GE2E (resemblyzer) and DNSMOS (speechmos) in the evaluation panel: auto = when "
                             "installed")
    parser.add_argument("--max-upload-mb", type=float, default=200.0, help="largest audio upload accepted")
    parser.add_argument("--max-queued", type=int, default=8,
                        help="heavy jobs (conversions, extractions, evaluations) run one at a time, each on all "
                             "cores; this many may wait in line, the page showing their place; more are refused "
                             "with a message (default 8)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every request (failures are always logged, with their message)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_queued < 0:
        parser.error("--max-queued needs 0 or more")
    args.model_dir = args.model_dir or [".", "chkpt"]
    args.singer_dir = args.singer_dir or ["data_svc/singer"]
    return report_errors(run_webui, args)


if __name__ == "__main__":
    sys.exit(main())
