"""How long svc_inference.py leaves the screen unchanged on a long song (issue 27: never more than 5 s).

Runs svc_inference.py on a pseudo-terminal, as a user's shell would, (1) on one long song and (2) on
a batch of the long song and a short one, reads everything it writes in small pieces as it comes
(tqdm's \\r redraws included), and prints the longest stretches in which the screen did not change,
each with the line it showed (the phase), counted from the command's start (imports included) to
its exit. Models: random weights of the real sizes in the public file formats (Whisper large-v2
encoder dims, HuBERT-Soft, the LSTM speaker encoder, the configs/base.yaml generator), the real
FCPE weights of the installed torchfcpe wheel (the default pitch method).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.screen_gaps import watch  # noqa: E402
from bench.timing import CONDITIONS, cpu_cores, load_caveat, under  # noqa: E402

LIMIT_SECONDS = 5.0  # the bound


def make_files(folder, long_seconds, short_seconds, full):
    """Write (once) the checkpoints, the singer's clip and the songs; returns {name: path}."""
    files = {"whisper": os.path.join(folder, "whisper.pt"), "hubert": os.path.join(folder, "hubert.pt"),
             "speaker": os.path.join(folder, "speaker.pth.tar"), "model": os.path.join(folder, "model.pth"),
             "spk": os.path.join(folder, "singer.spk.npy"), "clip": os.path.join(folder, "clip.wav"),
             "long": os.path.join(folder, f"song_{long_seconds:g}s.wav"),
             "short": os.path.join(folder, f"short_{short_seconds:g}s.wav")}
    start = time.perf_counter()
    if not (os.path.isfile(files["whisper"]) and os.path.isfile(files["hubert"])):
        fixtures.extractor_checkpoints(folder, "full" if full else "small")
    if not os.path.isfile(files["speaker"]):
        fixtures.speaker_checkpoint(folder, full)
    if not os.path.isfile(files["model"]):
        fixtures.generator_files(folder, fixtures.BASE_CONFIG)
    for name, seconds, seed in (("long", long_seconds, 0), ("short", short_seconds, 1), ("clip", 8.0, 2)):
        if not os.path.isfile(files[name]):
            fixtures.write_song(files[name], seconds, seed=seed)
    print(f"files ready in {time.perf_counter() - start:.0f} s ({folder})", flush=True)
    return files


def runs(files, out):
    """{run name: svc_inference.py argv}: one song (target: the singer's clip), and a batch."""
    base = [sys.executable, os.path.join(fixtures.ROOT, "svc_inference.py"), "--config", fixtures.BASE_CONFIG,
            "--model", files["model"], "--whisper-checkpoint", files["whisper"],
            "--hubert-checkpoint", files["hubert"], "--speaker-checkpoint", files["speaker"], "--device", "cpu"]
    return {"one song, --spk clip.wav": base + ["--spk", files["clip"], "--wave", files["long"],
                                                "--out", os.path.join(out, "one.wav")],
            "batch: long + short song": base + ["--spk", files["spk"], "--wave", files["long"], files["short"],
                                                "--out", os.path.join(out, "batch")]}


def report(name, code, log, wall, top):
    gaps = log.gaps()
    print(f"\n== {name}: exit {code}, {wall:.0f} s; longest unchanged screen {gaps[0].seconds:.1f} s "
          f"({'within' if gaps[0].seconds <= LIMIT_SECONDS else 'OVER'} the {LIMIT_SECONDS:g} s bound)")
    for gap in gaps[:top]:
        print(f"  {gap.seconds:6.1f} s  from {gap.start:6.1f} s   {gap.phase[:110]}")
    print("  -- the screen at the end --")
    for line in log.screen.text().splitlines():
        print(f"  | {line[:130]}")
    return gaps[0]


def run(minutes, short_seconds, full, keep, top, echo, conditions=CONDITIONS):
    seconds = minutes * 60
    sizes = "full-size" if full else "SMALL (2-layer Whisper, tiny HuBERT and speaker encoder)"
    print(f"quiet bench: {seconds:g} s song, {sizes} random weights, base.yaml generator, FCPE pitch, "
          f"{cpu_cores()} cores, {' and '.join(conditions)} (busy = one CPU-bound process beside the run); "
          f"{load_caveat()}", flush=True)
    with tempfile.TemporaryDirectory(dir=keep) as scratch:
        folder = os.path.join(keep or scratch, "full" if full else "small")
        os.makedirs(folder, exist_ok=True)
        files = make_files(folder, seconds, short_seconds, full)
        worst = {}
        for condition in conditions:
            for name, argv in runs(files, scratch).items():
                name = f"{name}, {condition}"
                start = time.perf_counter()
                with under(condition):
                    code, log = watch(argv, cwd=fixtures.ROOT, echo=(lambda t: sys.stdout.write(t)) if echo else None)
                worst[name] = report(name, code, log, time.perf_counter() - start, top)
                if code != 0:
                    print(log.output()[-3000:])
        print("\nlongest unchanged screen per run:")
        for name, gap in worst.items():
            print(f"  {name}: {gap.seconds:.1f} s ({gap.phase[:90]})")
        return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long song (default 10)")
    parser.add_argument("--short-seconds", type=float, default=20.0, help="the batch's short song (default 20)")
    parser.add_argument("--small", action="store_true",
                        help="2-layer Whisper (real width), tiny HuBERT and speaker encoder: checks the bench quickly")
    parser.add_argument("--keep", help="folder for the checkpoints and songs, kept and reused (default: a temp folder)")
    parser.add_argument("--top", type=int, default=8, help="gaps listed per run (default 8)")
    parser.add_argument("--echo", action="store_true", help="also show the commands' output as it comes")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS,
                        help="run idle and/or beside one CPU-bound process (default: both; the full-size "
                             "10-minute run takes about 6 minutes per run and condition on 2 cores)")
    args = parser.parse_args(argv)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    run(args.minutes, args.short_seconds, not args.small, args.keep, args.top, args.echo, args.conditions)


if __name__ == "__main__":
    main()
