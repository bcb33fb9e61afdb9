"""Generator conversion speed (configs/base.yaml sizes, random weights): the plain path (weight
norm in, plain convolutions: the public code's arithmetic) against our CPU path and, when their
packages are installed, ONNX Runtime and OpenVINO on the exported graph. Every path is timed
idle and beside one busy process, interleaved, and compared with the plain path under the same
condition."""
import argparse
import copy
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.fixtures import BASE_CONFIG, conversion_models  # noqa: E402
from bench.timing import (CONDITIONS, condition_rows, load_caveat, print_table, set_threads,  # noqa: E402
                          time_idle_busy)
from common.config import load_config  # noqa: E402
from common.device import pick_device  # noqa: E402
from vits_decoder.generator import Generator  # noqa: E402
from svc.onnx_export import TRACE_FRAMES, INPUT_NAMES, OnnxGenerator, example_inputs, trace_to_onnx, traceable_copy  # noqa: E402
import torch  # noqa: E402  (after the bench package: common sets the OpenMP wait policy first)

FRAMES_PER_SECOND = 100
TOLERANCE = 1e-4


def gpu_paths(hp, plain, fast):
    """CUDA paths: plain, the CPU fast path, and what conversion runs on a GPU (`fast`: weight norm
    folded, plain decoder: vits_decoder.fast.accelerate) in fp32 and under bf16/fp16 autocast."""
    folded = OnnxGenerator(fast)
    cpu_path = conversion_models(hp, "cpu")[1].to(fast.dec.conv_pre.weight.device)  # on CUDA: its polyphase form

    def autocast(dtype):
        def run(*inputs):
            with torch.autocast("cuda", dtype=dtype):
                return folded(*inputs).float()
        return run

    return {"plain": OnnxGenerator(plain), "fast (CPU path)": OnnxGenerator(cpu_path), "folded": folded,
            "folded bf16": autocast(torch.bfloat16), "folded fp16": autocast(torch.float16)}


def torch_paths(hp, plain, fast):
    """{name: module(inputs)} for the PyTorch paths; inputs carry the prior noise explicitly, so
    every path computes the same function."""
    one_tile = copy.deepcopy(fast)
    one_tile.dec.__class__ = Generator  # the same fast layers, the decoder's plain (untiled) inference
    torch_activations = conversion_models(hp, "cpu", compiled=False)[1]
    return {"plain": OnnxGenerator(plain), "fast": OnnxGenerator(fast), "fast, one tile": OnnxGenerator(one_tile),
            "fast, torch activations": OnnxGenerator(torch_activations)}


def onnx_paths(fast, hp, folder, threads):
    """{name: run(inputs)} for ONNX Runtime and OpenVINO (fp32) on the exported graph, each only
    when its package imports; spinning thread pools are turned off (they steal a shared core)."""
    path = os.path.join(folder, "generator.onnx")
    trace_to_onnx(OnnxGenerator(traceable_copy(fast)).eval(), example_inputs(fast, hp, TRACE_FRAMES, seed=99), path)
    paths = {}

    def feeds(inputs):
        return {name: t.numpy() for name, t in zip(INPUT_NAMES, inputs)}

    try:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        paths["onnxruntime"] = lambda *inputs: session.run(["audio"], feeds(inputs))[0]
    except ImportError:
        print("onnxruntime not installed: its rows are left out (pip install onnxruntime)")
    try:
        import openvino
        compiled = openvino.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                               "INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        paths["openvino"] = lambda *inputs: next(iter(request.infer(feeds(inputs)).values()))
    except ImportError:
        print("openvino not installed: its rows are left out (pip install openvino)")
    return paths


def run(config, seconds=(10.0, 60.0), repeats=3, device="auto", threads=None, backends=True):
    """One row per input length, condition and path: seconds, RTF, speed-up over the plain path
    under the same condition, largest output difference from the plain path. Returns the rows."""
    device = pick_device(device)
    used = set_threads(threads)
    hp = load_config(config)
    plain, fast = conversion_models(hp, device)
    print(f"generator bench: {config}, device {device}, {used} threads, random weights, paths "
          f"interleaved, busy = one CPU-bound process beside the bench; {load_caveat()}")
    paths = gpu_paths(hp, plain, fast) if device.type == "cuda" else torch_paths(hp, plain, fast)
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        if backends and device.type == "cpu":
            paths.update(onnx_paths(fast, hp, folder, used))
        warm = [t.to(device) for t in example_inputs(fast, hp, FRAMES_PER_SECOND)]
        for fn in paths.values():
            fn(*warm)
        rows = []
        headers = ["audio s", "condition", "path", "seconds", "RTF", "vs plain", "max |diff|", f"<= {TOLERANCE:g}"]
        for length in seconds:
            inputs = [t.to(device) for t in example_inputs(fast, hp, int(round(length * FRAMES_PER_SECOND)))]
            reference = torch.as_tensor(paths["plain"](*inputs))
            diffs = {name: float((reference - torch.as_tensor(fn(*inputs))).abs().max())
                     for name, fn in paths.items()}
            times = time_idle_busy({name: (lambda fn=fn: fn(*inputs)) for name, fn in paths.items()},
                                   repeats, device, warmup=0)
            rows += condition_rows(times, "plain", lambda condition, name, t, ratio: [
                f"{length:g}", condition, name, t, t / length, ratio, f"{diffs[name]:.2e}",
                "yes" if diffs[name] <= TOLERANCE else "NO"])
            print_table(headers, rows[-len(CONDITIONS) * len(paths):])  # each length as soon as it is done
    print("RTF = seconds of compute per second of audio; 'vs plain' = plain seconds / path seconds under the "
          "same condition (targets: fast >= 3x idle, >= 2x busy); medians of interleaved repeats; NSF source "
          "and prior noise given. 'fast, one tile' = the same arithmetic without the time tiles; 'fast, torch "
          "activations' = with the torch polyphase activations instead of the compiled ones (as without numba).")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0],
                        help="input lengths in seconds of audio (default: 10 60)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repeats per path and condition, median taken (default: 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--no-backends", action="store_true", help="leave out the ONNX Runtime / OpenVINO rows")
    parser.add_argument("--quick", action="store_true", help="short run: 2 and 4 seconds, 1 repeat")
    args = parser.parse_args(argv)
    seconds, repeats = ([2.0, 4.0], 1) if args.quick else (args.seconds, args.repeats)
    run(args.config, seconds, repeats, args.device, args.threads, not args.no_backends)


if __name__ == "__main__":
    main()
