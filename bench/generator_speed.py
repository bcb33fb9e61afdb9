"""Bench 1: real-time factor of the conversion generator, fast path vs plain reference path."""
import torch

from bench.models import conversion_models, load_config, random_features
from bench.timing import load_caveat, print_table, set_threads, time_interleaved
from common.device import pick_device

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
