"""What the preprocessing CLIs share: argparse flags (so every script words them the same way),
running a step with a worker pool, and turning its report into an exit status."""
import argparse
import sys

from common.cli import add_device_argument, fail
from common.paths import HUBERT_CKPT, SPEAKER_CKPT, WHISPER_CKPT
from prepare.clip_pieces import DEFAULT_PEAK, ClipOptions
from prepare.jobs import StepError, make_pool, stop_pool
from prepare.slicer import DEFAULT_MAX_SECONDS, DEFAULT_MIN_SECONDS, WHISPER_SECONDS, check_limits


def add_workers(parser):
    parser.add_argument("-t", "--threads", type=int, default=1, dest="workers",
                        help="worker processes for the CPU-bound work (resampling, spectrograms, audio loading "
                             "and the speaker front end); 1 = all in this process (default 1), 0 = one per CPU core")


def add_pitch(parser):
    from prepare.features import DEFAULT_PITCH_METHOD

    parser.add_argument("--pitch-method", "--method", dest="pitch_method", default=DEFAULT_PITCH_METHOD,
                        help=f"F0 estimator of the training data (default {DEFAULT_PITCH_METHOD}): fcpe (torchfcpe's "
                             "network: as accurate as CREPE full on sung test signals, 10-25x faster on a CPU); crepe "
                             "(CREPE, what so-vits-svc-5.0 used: choose it to match the public models' training data "
                             "exactly); rmvpe (rmvpe_pretrain/rmvpe.pt: best with a backing, see the README); harvest or dio (need pyworld), pm (needs parselmouth) or pyin (librosa). "
                             "Convert with the method the model was trained with.")
    parser.add_argument("--crepe-model", "--model", dest="crepe_model", default="full", choices=("full", "tiny"),
                        help="CREPE network size when --pitch-method crepe: full (default, as the public tool) "
                             "or tiny (about 10x faster, a little less accurate)")


def add_whisper(parser):
    parser.add_argument("--whisper-checkpoint", default=WHISPER_CKPT,
                        help=f"OpenAI Whisper weights (default {WHISPER_CKPT})")
    parser.add_argument("--no-whisper-noise", dest="whisper_noise", action="store_false",
                        help="do not dither the log-mel with 0.1-std noise before the Whisper encoder "
                             "(deterministic PPGs; the public tool dithers)")


def add_hubert(parser):
    parser.add_argument("--hubert-checkpoint", default=HUBERT_CKPT,
                        help=f"HuBERT-Soft weights (default {HUBERT_CKPT})")


def add_speaker(parser):
    parser.add_argument("--speaker-checkpoint", default=SPEAKER_CKPT,
                        help=f"LSTM speaker-encoder weights (default {SPEAKER_CKPT})")


def add_clip_options(parser):
    parser.add_argument("--no-slice", action="store_true",
                        help="keep long recordings whole instead of cutting them at their pauses")
    parser.add_argument("--slice-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help=f"recordings longer than this are cut at pauses into pieces of 2 s to this length "
                             f"(default {DEFAULT_MAX_SECONDS:g}, at most {WHISPER_SECONDS:g}: Whisper's window)")
    parser.add_argument("--loudnorm", type=float, default=None, metavar="LUFS",
                        help="level every clip to this integrated loudness (ITU-R BS.1770, e.g. -23) instead of "
                             "peak normalisation; never clips")


def clip_options(args):
    """prepare.clip_pieces.ClipOptions from the parsed flags; bad values raise ValueError."""
    if not args.no_slice:
        check_limits(DEFAULT_MIN_SECONDS, args.slice_seconds)
    if args.loudnorm is not None and not -70.0 <= args.loudnorm < 0.0:
        raise ValueError(f"--loudnorm {args.loudnorm}: choose a loudness target in LUFS between -70 and 0 "
                         f"(e.g. -23 broadcast, -16 streaming).")
    return ClipOptions(slice_seconds=None if args.no_slice else args.slice_seconds, loudnorm=args.loudnorm,
                       peak=getattr(args, "peak", DEFAULT_PEAK))


def finish(report):
    """Print a step's summary; exit status 1 only when nothing usable remains."""
    report.print_summary()
    return 0 if report.usable else 1


def run_in_pool(work, workers):
    """Run `work(pool)`, a step returning its StepReport, with `workers` processes; returns the exit status."""
    pool = make_pool(workers)
    try:
        report = work(pool)
    except StepError as e:
        return fail(e)
    except KeyboardInterrupt:
        stop_pool(pool, interrupted=True)
        pool = None
        print("interrupted: the files finished so far are kept, half-written ones are removed on the next run; "
              "run the same command again to go on.", file=sys.stderr, flush=True)
        return 130
    finally:
        stop_pool(pool)
    return finish(report)


def wave_folders(out_flags, out_default):
    """The folder flags of steps 2-4 for feature_script: -w 16 kHz waves in, `out_flags` out."""
    waves = "./data_svc/waves-16k"
    return [(("-w", "--wav"), dict(default=waves, help=f"folder of 16 kHz waves <folder>/<speaker>/<name>.wav "
                                                        f"(default {waves})")),
            (out_flags, dict(default=out_default, help=f"output folder (default {out_default})"))]


def feature_script(step, description, folders, add_model):
    """(build_parser, main) of the script of `step` (pitch, ppg, hubert or speaker): the input and output
    folder (`folders`: two (flags, add_argument kwargs)), `add_model(parser)`'s flags, --device and -t."""
    def build_parser():
        parser = argparse.ArgumentParser(description=description)
        for flags, kwargs in folders:
            parser.add_argument(*flags, **kwargs)
        add_model(parser)
        add_device_argument(parser)
        add_workers(parser)
        return parser

    def main(argv=None):
        from prepare.features import step_from
        from prepare.pipeline import Options

        args = build_parser().parse_args(argv)
        # argparse's dest: the long flag (last in `flags`) or the positional name
        wave_root, out_root = (getattr(args, flags[-1].lstrip("-").replace("-", "_")) for flags, _ in folders)
        feature_step = step_from(step, Options.from_flags(args, partial=True))
        return run_in_pool(lambda pool: feature_step.run(wave_root, out_root, pool=pool), args.workers)

    return build_parser, main
