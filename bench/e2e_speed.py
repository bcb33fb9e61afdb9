"""Bench 2: end-to-end svc_inference.py (feature extraction + conversion) on one song."""
import os
import tempfile

from bench import fixtures
from bench.timing import cpu_cores, load_caveat, print_table


def run(config, seconds=30.0, full=True, device="cpu", keep=None):
    """Time one svc_inference.py run on a `seconds` long WAV with random-weight checkpoints
    (full: Whisper large-v2 dims, HuBERT-Soft; else a 2-layer Whisper of the same width and a tiny
    HuBERT; CREPE full either way)."""
    fixtures.require_svc_inference()
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        sizes = "full-size" if full else "SMALL (2-layer Whisper, tiny HuBERT)"
        print(f"end-to-end bench: {config}, {seconds:g} s input, {sizes} random Whisper/HuBERT, CREPE full, "
              f"device {device}, {cpu_cores()} cores; {load_caveat()}")
        whisper, hubert = fixtures.extractor_checkpoints(folder, full)
        model, spk = fixtures.generator_files(folder, config)
        wave = fixtures.write_song(os.path.join(folder, "song.wav"), seconds)
        out = os.path.join(folder, "out.wav")
        argv = fixtures.svc_inference_argv(config, model, spk, wave, out, whisper, hubert,
                                           ["--device", device, "--seed", "0"])
        code, wall, peak, tail = fixtures.run_measured(argv)
        if code != 0:
            print(tail)
            raise SystemExit(f"svc_inference.py failed with exit code {code}")
        rows = [[f"{seconds:g}", wall, wall / seconds, f"{peak:.0f}", f"{os.path.getsize(out) / 2 ** 20:.1f}"]]
        print_table(["input s", "wall s", "wall per s of audio", "peak RSS MiB", "output MiB"], rows)
        print("Wall time includes process start, loading every checkpoint and writing the output.")
        return rows
