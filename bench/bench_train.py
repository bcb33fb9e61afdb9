"""Training step time at configs/base.yaml sizes (random weights): the trainer's step vs variants.

Variants timed interleaved in one run:
  plain        - the step on the plain reference modules, fp32 (the public model's arithmetic; the
                 trainer's default path, train.fast_path: false)
  fast         - the step with train.fast_path: true (vits_decoder.fast.accelerate(training=True):
                 compiled activation with its backward, banded attention)
  fast, torch activations - the same with the torch polyphase activation instead of the compiled one
  amp-bf16/fp16 - CUDA only: the plain step under autocast (fp16 with a grad scaler)

--memory: peak memory (RSS) of the main process per batch size and clip length, each measured in a
fresh process (models, optimizers, two training steps, CPU), beside what vits/train_memory.py
estimates for it (the estimate the trainer prints at start).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.fixtures import BASE_CONFIG, training_models  # noqa: E402
from bench.timing import condition_rows, load_caveat, print_table, set_threads, time_idle_busy  # noqa: E402
from common.cli import add_device_argument  # noqa: E402
from common.config import load_config  # noqa: E402
from common.device import pick_device  # noqa: E402
import torch  # noqa: E402  (after the bench package: common sets the OpenMP wait policy first)
from vits.models import model_sizes  # noqa: E402


def random_batch(hp, batch, frames, device, seed=0):
    from vits.data_utils import SvcBatch

    gen = torch.Generator().manual_seed(seed)
    v, hop = hp.vits, int(hp.data.hop_length)
    spec_channels, _ = model_sizes(hp)
    lengths = torch.full((batch,), frames, dtype=torch.long)
    parts = SvcBatch(
        ppg=torch.randn(batch, frames, v.ppg_dim, generator=gen), ppg_lengths=lengths,
        vec=torch.randn(batch, frames, v.vec_dim, generator=gen),
        pit=120.0 + 200.0 * torch.rand(batch, frames, generator=gen),
        spk=torch.randn(batch, v.spk_dim, generator=gen),
        spec=torch.rand(batch, spec_channels, frames, generator=gen), spec_lengths=lengths,
        audio=0.3 * torch.randn(batch, 1, frames * hop, generator=gen), audio_lengths=lengths * hop)
    return parts.to(device)


class StepRunner:
    """The trainer's micro-step + optimizer step (vits.train) on fresh random-weight models."""

    def __init__(self, hp, device, amp="none", fast=None):
        from vits import train as train_step
        from vits_decoder.losses import MultiResolutionSTFTLoss

        torch.manual_seed(0)
        t = hp.train
        self.hp, self.device, self.amp, self.ts = hp, device, amp, train_step
        self.net_g, self.net_d = training_models(hp, device, fast)
        self.upd_g, self.upd_d = (train_step.Updater(net, train_step.optimizer(net.parameters(), t), t.grad_clip,
                                                     train_step.grad_scaler(amp)) for net in (self.net_g, self.net_d))
        self.stft_loss = MultiResolutionSTFTLoss(hp.mrd.resolutions).to(device)

    def __call__(self, batch):
        ts = self.ts
        terms, fake, real = ts.generator_losses(self.hp, self.net_g, self.net_d, self.stft_loss, batch,
                                                ts.autocast_context(self.device, self.amp))
        self.upd_g.backward(terms["total"], 1)
        loss_d = ts.discriminator_losses(self.net_d, fake, real, ts.autocast_context(self.device, self.amp))
        self.upd_d.backward(loss_d, 1)
        self.upd_g.step()
        self.upd_d.step()


def variants(device):
    rows = {"plain": dict(), "fast": dict(fast={}), "fast, torch activations": dict(fast={"compiled": False})}
    if device.type == "cuda":
        rows["amp-bf16"] = dict(amp="bf16")
        rows["amp-fp16"] = dict(amp="fp16")
    return rows


def run(config, batches=(2, 8), seconds=4.0, repeats=3, device="auto", threads=None, cpu_too=True):
    """Print seconds per training step for each variant and batch size on the chosen device (and
    on CPU too when that is CUDA and cpu_too). Ratios are against the 'plain' row."""
    device = pick_device(device)
    used = set_threads(threads)
    hp = load_config(config)
    frames = int(round(seconds * hp.data.sampling_rate / hp.data.hop_length))
    devices = [device] + ([torch.device("cpu")] if device.type == "cuda" and cpu_too else [])
    print(f"training-step bench: {config}, clips of {seconds:g} s (decoder window "
          f"{hp.data.segment_size} samples), {used} CPU threads, random weights, paths interleaved; {load_caveat()}")
    rows = []
    for dev in devices:
        for size in batches:
            runners = {name: StepRunner(hp, dev, **kw) for name, kw in variants(dev).items()}
            batch = random_batch(hp, size, frames, dev)
            by_condition = time_idle_busy({n: (lambda r=r: r(batch)) for n, r in runners.items()}, repeats, dev)
            rows += condition_rows(by_condition, "plain",
                                   lambda c, name, sec, ratio: [str(dev), size, c, name, sec, ratio])
            del runners
    print_table(["device", "batch", "condition", "step", "s/step", "speed-up vs plain"], rows)
    print("Median of interleaved repeats after one warm-up step each; busy = one CPU-bound process beside "
          "the bench, ratios against 'plain' under the same condition. Targets: on a CPU 'fast' at least "
          "1.5x 'plain' at batch 8, idle and busy; on CUDA amp at least 1.5x faster than fp32.")
    return rows


def memory_child(config, batch, seconds):
    """In a fresh process: peak RSS before the models and after two training steps (JSON line)."""
    import json

    from vits.train_memory import peak_rss_bytes

    hp = load_config(config)
    start = peak_rss_bytes()
    runner = StepRunner(hp, torch.device("cpu"))
    params = sum(p.numel() for net in (runner.net_g, runner.net_d) for p in net.parameters())
    data = random_batch(hp, batch, int(round(seconds * hp.data.sampling_rate / hp.data.hop_length)), "cpu")
    for _ in range(2):
        runner(data)
    print(json.dumps({"start": start, "peak": peak_rss_bytes(), "params": params}))


def memory(config, batches, seconds_list):
    """Print peak main-process memory per batch size and clip length, and the trainer's estimate."""
    import json
    import subprocess

    from vits.train_memory import GB, estimate_bytes

    rows = []
    for seconds in seconds_list:
        for size in batches:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--config", config, "--memory-child",
                                  str(size), str(seconds)], capture_output=True, text=True, check=True).stdout
            got = json.loads(out.strip().splitlines()[-1])
            estimate = estimate_bytes(got["params"], size, seconds, 0)
            rows.append([size, seconds, got["start"] / GB, got["peak"] / GB, estimate / GB])
    print(f"training memory bench: {config}, CPU, fp32, one fresh process per row, random weights")
    print_table(["batch", "clip s", "GB at start", "peak GB (main process)", "trainer's estimate GB"], rows)
    print("Each DataLoader worker (train.num_workers) adds its own memory on top (~0.65 GB measured on a "
          "real dataset).")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--batch", type=int, nargs="+", default=[2, 8], help="batch sizes (default: 2 8)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="clip length in seconds (default: 4, train.max_seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant, median taken (default: 3)")
    add_device_argument(parser, help="auto, cpu, cuda or cuda:N (default: auto; CUDA adds CPU rows)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    parser.add_argument("--no-cpu-rows", action="store_true", help="on CUDA, leave out the CPU rows")
    parser.add_argument("--quick", action="store_true", help="short run: batch 2, 1-second clips, 1 repeat")
    parser.add_argument("--memory", action="store_true",
                        help="measure peak memory per batch size (and --memory-seconds) instead of time")
    parser.add_argument("--memory-seconds", type=float, nargs="+", default=[4.0],
                        help="clip lengths for --memory (default: 4)")
    parser.add_argument("--memory-child", nargs=2, type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.config, int(args.memory_child[0]), args.memory_child[1])
    elif args.memory:
        memory(args.config, args.batch, args.memory_seconds)
    elif args.quick:
        run(args.config, [2], 1.0, 1, args.device, args.threads, cpu_too=False)
    else:
        run(args.config, args.batch, args.seconds, args.repeats, args.device, args.threads,
            cpu_too=not args.no_cpu_rows)


if __name__ == "__main__":
    main()
