"""A whole song converted in one process once every model is loaded: seconds per stage.

Full-size random weights (Whisper large-v2 encoder, HuBERT-Soft, CREPE full when its real file is
missing, the base-size generator); the real FCPE/CREPE files are used where installed. Each
setting converts a 5 s clip first (loads the extractors, warms the kernels), then the song; the
song is timed per stage (Whisper, HuBERT, pitch, generator) and as one convert() call.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.fixtures import BASE_CONFIG  # noqa: E402
from bench.timing import load_caveat, print_table, set_threads, synchronize  # noqa: E402
from common.audio import EXTRACT_RATE, load_audio  # noqa: E402
from common.cli import add_device_argument  # noqa: E402
from common.config import load_config  # noqa: E402
from common.device import pick_device  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

# name -> (pitch method, precision, Whisper/HuBERT in bf16 on the CPU)
SETTINGS = {
    "crepe-full fp32": ("crepe", "fp32", False),
    "fcpe fp32": ("fcpe", "fp32", False),
    "fcpe bf16": ("fcpe", "bf16", False),
    "fcpe fp16": ("fcpe", "fp16", False),
}
CPU_SETTINGS = {"crepe-full fp32": ("crepe", "fp32", False), "fcpe (--fast)": ("fcpe", "fp32", True)}


def crepe_full_weights(folder):
    """The installed CREPE full file, else random weights of its layout written to `folder`
    (cost does not depend on the values). Returns (path, real?)."""
    from common.checkpoint import CheckpointError
    from pitch.crepe import locate_weights
    from pitch.crepe_net import CrepeNet

    try:
        return locate_weights("full"), True
    except CheckpointError:  # not installed: a stand-in of the same layout
        path = os.path.join(folder, "crepe_full.pth")
        torch.save(CrepeNet("full").state_dict(), path)
        return path, False


def timed(device, fn, label):
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return out, seconds


def time_setting(converter, spk, clip, song, device):
    """Warm on `clip`, then (stage seconds {name: s}, whole-convert seconds) on `song`."""
    from svc.convert import Features

    timed(device, lambda: converter.convert(spk, clip), "load + warm-up on the 5 s clip")
    stages = {}
    ppg, stages["whisper"] = timed(device, lambda: converter.whisper()(song), "whisper")
    vec, stages["hubert"] = timed(device, lambda: converter.hubert()(song), "hubert")
    (f0, _, _), stages["pitch"] = timed(device, lambda: converter.source_pitch(song), "pitch")
    _, stages["generator"] = timed(device, lambda: converter.convert(spk, song, Features(ppg, vec, f0)), "generator")
    _, whole = timed(device, lambda: converter.convert(spk, song), "whole convert")
    return stages, whole


def run(config, seconds=300.0, device="auto", threads=None, settings=None, full=True):
    from svc.conversion_run import open_converter
    from svc.settings import ConversionSettings

    device = pick_device(device)
    used = set_threads(threads)
    settings = settings or (SETTINGS if device.type == "cuda" else CPU_SETTINGS)
    hp = load_config(config)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        whisper, hubert = fixtures.extractor_checkpoints(folder, "full" if full else "small")
        model, spk_path = fixtures.generator_files(folder, config)
        song_path = fixtures.write_song(os.path.join(folder, "song.wav"), seconds)
        song = load_audio(song_path, EXTRACT_RATE)
        clip = song[: 5 * EXTRACT_RATE]
        spk = np.load(spk_path)
        crepe_path, real_crepe = crepe_full_weights(folder)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {used} threads"
        print(f"(random checkpoints written in {time.perf_counter() - start:.0f} s)")
        print(f"song bench: {config}, {seconds:g} s song, device {device} ({name}), random "
              f"{'full-size' if full else 'small'} Whisper/HuBERT, CREPE full "
              f"{'real' if real_crepe else 'random'} weights; {load_caveat()}")
        rows = []
        for label, (method, precision, bf16) in settings.items():
            print(label, flush=True)
            conversion = ConversionSettings(spk=spk_path, whisper_checkpoint=whisper, hubert_checkpoint=hubert,
                                            pitch_method=method, fast=bf16, device=str(device), precision=precision,
                                            pitch_weights=crepe_path if method == "crepe" else None, seed=0,
                                            no_noise=True, progress=False)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            converter, _ = open_converter(hp, model, conversion)
            stages, whole = time_setting(converter, spk, clip, song, device)
            peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f}" if device.type == "cuda" else "-"
            rows.append([label, *(stages[k] for k in ("whisper", "hubert", "pitch", "generator")),
                         whole, seconds / whole, peak])
            del converter
            if device.type == "cuda":
                torch.cuda.empty_cache()
        print_table(["setting", "whisper s", "hubert s", "pitch s", "generator s", "whole convert s",
                     "x real time", "peak GPU MiB"], rows)
        print("Models loaded and warmed on a 5 s clip first; 'generator' = convert() with the three "
              "features given (generator + lining up); 'whole convert' = one convert() from audio. "
              "Target on a GPU: a 5-minute song under 10 s.")
        return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, default=300.0, help="song length in seconds (default: 300)")
    add_device_argument(parser)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--quick", action="store_true",
                        help="short run: 10 s song, 2-layer Whisper and tiny HuBERT")
    args = parser.parse_args(argv)
    seconds, full = (10.0, False) if args.quick else (args.seconds, True)
    run(args.config, seconds, args.device, args.threads, full=full)


if __name__ == "__main__":
    main()
