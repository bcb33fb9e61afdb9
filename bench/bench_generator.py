"""Generator conversion speed (configs/base.yaml sizes, random weights): fast path vs plain path."""
import argparse
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.models import BASE_CONFIG, conversion_models, random_features  # noqa: E402
from bench.timing import load_caveat, print_table, set_threads, time_interleaved  # noqa: E402
from common.config import load_config  # noqa: E402
from common.device import pick_device  # noqa: E402


FRAMES_PER_SECOND = 100
TOLERANCE = 1e-4


def run(config, seconds=(10.0, 60.0), repeats=3, device="auto", threads=None):
    """Print one row per input length: plain and fast seconds, their RTFs, the speed-up and the
    largest output difference. Returns the rows."""
    device = pick_device(device)
    used = set_threads(threads)
    hp = load_config(config)
    plain, fast = conversion_models(hp, device)
    print(f"generator bench: {config}, device {device}, {used} threads, random weights, paths "
          f"interleaved; {load_caveat()}")

    def job(model, feats, source):
        ppg, vec, f0, spk, lengths = feats
        return lambda: model.inference(ppg, vec, f0, spk, lengths, source, seed=0)

    warm = random_features(hp, FRAMES_PER_SECOND, device)
    warm_source = fast.pitch2source(warm[2], seed=0)
    time_interleaved({"plain": job(plain, warm, warm_source), "fast": job(fast, warm, warm_source)}, 0, device)

    rows = []
    for length in seconds:
        feats = random_features(hp, int(round(length * FRAMES_PER_SECOND)), device)
        source = fast.pitch2source(feats[2], seed=0)  # computed once, shared by both paths
        diff = (job(plain, feats, source)() - job(fast, feats, source)()).abs().max().item()
        times = time_interleaved({"plain": job(plain, feats, source), "fast": job(fast, feats, source)},
                                 repeats, device, warmup=0)
        rows.append([f"{length:g}", times["plain"], times["plain"] / length, times["fast"],
                     times["fast"] / length, times["plain"] / times["fast"], f"{diff:.2e}",
                     "yes" if diff <= TOLERANCE else "NO"])
    print_table(["audio s", "plain s", "plain RTF", "fast s", "fast RTF", "speed-up", "max |diff|",
                 f"<= {TOLERANCE:g}"], rows)
    print("RTF = seconds of compute per second of audio (target: fast RTF <= 0.15 on 2 CPU cores); "
          "median of interleaved repeats, NSF source precomputed once.")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0],
                        help="input lengths in seconds of audio (default: 10 60)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path, median taken (default: 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="short run: 2 and 4 seconds, 1 repeat")
    args = parser.parse_args(argv)
    seconds, repeats = ([2.0, 4.0], 1) if args.quick else (args.seconds, args.repeats)
    run(args.config, seconds, repeats, args.device, args.threads)


if __name__ == "__main__":
    main()
