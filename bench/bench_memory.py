"""Peak memory of svc_inference.py converting a 5-minute input (precomputed features), above the weights.

Features are given as files (--ppg/--vec/--pit), so only the converter runs. The same command on a
1-second input gives the baseline (Python, torch, the loaded generator); the difference is the
memory the conversion itself needs.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import fixtures  # noqa: E402
from bench.fixtures import BASE_CONFIG  # noqa: E402
from bench.timing import CONDITIONS, load_caveat, print_table, under  # noqa: E402
from common.audio import EXTRACT_RATE  # noqa: E402
from common.cli import add_device_argument  # noqa: E402


LIMIT_MIB = 3 * 1024
BASELINE_SECONDS = 1.0


def convert(config, model, spk, folder, seconds, device, condition="idle"):
    sub = os.path.join(folder, f"{seconds:g}s_{condition}")
    os.makedirs(sub)
    ppg, vec, pit = fixtures.write_features(sub, seconds, config)
    wave = fixtures.write_song(os.path.join(sub, "in.wav"), seconds, rate=EXTRACT_RATE)
    argv = fixtures.svc_inference_argv(config, model, spk, wave, os.path.join(sub, "out.wav"),
                                       extra=["--ppg", ppg, "--vec", vec, "--pit", pit, "--device", device,
                                              "--seed", "0"])
    with under(condition):
        return fixtures.run_measured(argv, f"svc_inference.py on the {seconds:g} s input")


def run(config, seconds=300.0, device="cpu", keep=None):
    print(f"memory bench: {config}, {seconds:g} s input with precomputed features, device {device}; {load_caveat()}")
    rows, worst = [], 0.0
    with tempfile.TemporaryDirectory(dir=keep) as folder:
        model, spk = fixtures.generator_files(folder, config)
        for condition in CONDITIONS:
            base_wall, base_peak = convert(config, model, spk, folder, BASELINE_SECONDS, device, condition)
            wall, peak = convert(config, model, spk, folder, seconds, device, condition)
            above = peak - base_peak
            worst = max(worst, above)
            rows += [[condition, f"{BASELINE_SECONDS:g}", base_wall, f"{base_peak:.0f}", "-"],
                     [condition, f"{seconds:g}", wall, f"{peak:.0f}", f"{above:.0f}"]]
    print_table(["condition", "input s", "wall s", "peak RSS MiB", "above baseline MiB"], rows)
    print(f"busy = one CPU-bound process beside the run. Target: under {LIMIT_MIB} MiB above the loaded weights "
          f"in both conditions -> {'met' if worst < LIMIT_MIB else 'NOT met'}.")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, default=300.0, help="input length in seconds (default: 300)")
    add_device_argument(parser, "cpu", help="device passed to svc_inference.py (default: cpu)")
    parser.add_argument("--tmp", default=None, help="folder for the temporary files (default: system temp)")
    parser.add_argument("--quick", action="store_true", help="short run: 30 s input")
    args = parser.parse_args(argv)
    run(args.config, 30.0 if args.quick else args.seconds, args.device, args.tmp)


if __name__ == "__main__":
    main()
