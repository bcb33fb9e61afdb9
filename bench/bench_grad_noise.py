"""How far float32 rounding alone moves the training step's generator gradients, per tensor.

The measure is tests/test_public_step.py's: per tensor max|a - b| / max|b| (scale floored at 1e-6
of the model's largest gradient), worst over tensors. Every row is the trainer's generator step
(vits.train.generator_losses, random draws seeded alike) on the same weights and batch, against
the plain path on all threads; the rows change only the float32 summation order:
  plain, again           - the reference run repeated (0: the step is deterministic)
  plain, 1 thread        - torch.set_num_threads(1): other reduction splits
  fast                   - train.fast_path (vits_decoder.fast.accelerate(training=True))
  fast, 1 thread
  banded attention only / compiled activation only / torch polyphase activation only
Besides the worst it prints the tensors that reach it and the worst among tensors whose gradient is
at least 1e-3 of the largest (the well-conditioned ones).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_train import random_batch  # noqa: E402
from bench.fixtures import BASE_CONFIG, training_models  # noqa: E402
from bench.timing import set_threads  # noqa: E402
from common.config import load_config  # noqa: E402
import torch  # noqa: E402

SEED = 1234


def relative_errors(ours, ref):
    """[(error, name, scale / top)] per tensor, worst first."""
    top = max(float(r.abs().max()) for r in ref.values())
    rows = [(float((ours[n] - r).abs().max()) / max(1e-6 * top, float(r.abs().max())), n, float(r.abs().max()) / top)
            for n, r in ref.items() if not n.endswith(".conv_k.bias")]  # zero in exact arithmetic
    return sorted(rows, reverse=True)


def swap(net_g, form):
    """Only one of the fast path's swaps, for the per-module rows."""
    from vits_decoder.alias import SnakeAlias
    from vits_decoder.fast import accelerate, attention, fused, polyphase

    if form == "fast":
        return accelerate(net_g, "cpu", training=True)
    for module in list(net_g.modules()):
        if form == "attention" and attention.suits(module):
            module.__class__ = attention.banded(type(module))
        elif form in ("compiled", "polyphase") and isinstance(module, SnakeAlias) and polyphase.suits(module):
            module.__class__ = fused.CompiledSnake if form == "compiled" else polyphase.PolyphaseSnake
    return net_g


def gradients(hp, state, batch, form=None, threads=None):
    from vits import train as train_step
    from vits_decoder.losses import MultiResolutionSTFTLoss

    net_g, net_d = training_models(hp, "cpu")
    net_g.load_state_dict(state[0])
    net_d.load_state_dict(state[1])
    if form:
        swap(net_g, form)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        torch.manual_seed(SEED)
        terms, _, _ = train_step.generator_losses(hp, net_g, net_d, MultiResolutionSTFTLoss(hp.mrd.resolutions), batch,
                                                  train_step.autocast_context(torch.device("cpu"), "none"))
        terms["total"].backward()
    finally:
        torch.set_num_threads(before)
    return {n: p.grad.detach().clone() for n, p in net_g.named_parameters() if p.grad is not None}


ROWS = {"plain, again": dict(), "plain, 1 thread": dict(threads=1), "fast": dict(form="fast"),
        "fast, 1 thread": dict(form="fast", threads=1), "banded attention only": dict(form="attention"),
        "compiled activation only": dict(form="compiled"), "torch polyphase activation only": dict(form="polyphase")}


def run(config, batch_size, frames, rows=None, show=4):
    set_threads()
    hp = load_config(config)
    torch.manual_seed(0)
    state = tuple(net.state_dict() for net in training_models(hp, "cpu"))
    batch = random_batch(hp, batch_size, frames, "cpu", seed=3)
    print(f"generator gradients, {config}, batch {batch_size} x {frames} frames, against plain on "
          f"{torch.get_num_threads()} threads")
    ref = gradients(hp, state, batch)
    results = {}
    for name in rows or ROWS:
        errors = relative_errors(gradients(hp, state, batch, **ROWS[name]), ref)
        conditioned = max((e for e, _, scale in errors if scale >= 1e-3), default=0.0)
        results[name] = errors[0][0]
        print(f"{name:32s} worst {errors[0][0]:.1e}, tensors above 1e-3: {sum(e > 1e-3 for e, _, _ in errors):3d} "
              f"of {len(errors)}, worst where the gradient is >= 1e-3 of the largest: {conditioned:.1e}")
        for error, tensor, scale in errors[:show]:
            if error > 1e-3:
                print(f"    {error:.1e}  {tensor} (gradient {scale:.1e} of the largest)")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=BASE_CONFIG, help="model config (default: configs/base.yaml)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (default: 2, as test_public_step)")
    parser.add_argument("--frames", type=int, default=50, help="clip length in frames (default: 50, 0.5 s)")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=None, help="rows to run (default: all)")
    args = parser.parse_args(argv)
    run(args.config, args.batch, args.frames, args.rows)


if __name__ == "__main__":
    main()
