"""Training step time at configs/base.yaml sizes (random weights): the trainer's step vs variants.

Variants timed interleaved in one run:
  plain        - the trainer's step with plain decoder activations, fp32 (the public model's way; the
                 trainer's choice on CUDA)
  polyphase    - the same step with the decoder's polyphase activations (the trainer's choice on CPU)
  amp-bf16/fp16 - CUDA only: the plain step under autocast (fp16 with a grad scaler)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.models import BASE_CONFIG  # noqa: E402
from bench.timing import load_caveat, print_table, set_threads, time_idle_busy  # noqa: E402
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

    def __init__(self, hp, device, amp="none", polyphase=False):
        from vits import train as train_step
        from vits.models import SynthesizerTrn
        from vits_decoder.discriminator import Discriminator
        from vits_decoder.losses import MultiResolutionSTFTLoss

        torch.manual_seed(0)
        t = hp.train
        self.hp, self.device, self.amp, self.ts = hp, device, amp, train_step
        self.net_g = SynthesizerTrn.from_hparams(hp).to(device).train()
        self.net_g.dec.use_fast_path(polyphase)
        self.net_d = Discriminator(hp).to(device).train()
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
    rows = {"plain": dict(), "polyphase": dict(polyphase=True)}
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
            for condition, times in by_condition.items():
                base = times["plain"]
                for name, sec in times.items():
                    rows.append([str(dev), size, condition, name, sec, base / sec])
            del runners
    print_table(["device", "batch", "condition", "step", "s/step", "speed-up vs plain"], rows)
    print("Median of interleaved repeats after one warm-up step each; busy = one CPU-bound process beside "
          "the bench, ratios against 'plain' under the same condition. Targets: no variant slower than "
          "'plain'; on CUDA amp at least 1.5x faster than fp32.")
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
    args = parser.parse_args(argv)
    if args.quick:
        run(args.config, [2], 1.0, 1, args.device, args.threads, cpu_too=False)
    else:
        run(args.config, args.batch, args.seconds, args.repeats, args.device, args.threads,
            cpu_too=not args.no_cpu_rows)


if __name__ == "__main__":
    main()
