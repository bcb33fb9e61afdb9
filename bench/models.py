"""Random-weight models of the real sizes for the benches (weights do not change the cost)."""
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE_CONFIG = os.path.join(ROOT, "configs", "base.yaml")


def random_generator_state(hp, seed=0, spread=0.02):
    """Exported-layout generator weights (weight norm unfolded), every tensor nudged at random so
    zero-initialised parts (speaker adapter, Snake parameters) also shape the output."""
    from vits.models import SynthesizerInfer

    torch.manual_seed(seed)
    state = SynthesizerInfer.from_hparams(hp).state_dict()
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        if value.is_floating_point() and "filter" not in key and "merge_" not in key:
            value = value + spread * torch.randn(value.shape, generator=gen)
        out[key] = value
    return out


def training_models(hp, device, fast=None):
    """(SynthesizerTrn, Discriminator) of random weights in training mode on `device`; fast: None
    for the plain reference, else the options of vits_decoder.fast.accelerate(..., training=True)."""
    from vits.models import SynthesizerTrn
    from vits_decoder.discriminator import Discriminator
    from vits_decoder.fast import accelerate

    net_g, net_d = SynthesizerTrn.from_hparams(hp).to(device).train(), Discriminator(hp).to(device).train()
    return (net_g if fast is None else accelerate(net_g, device, training=True, **fast)), net_d


def conversion_models(hp, device, seed=0, **fast_options):
    """(plain, fast) SynthesizerInfer with the same random weights, eval mode, on `device`; the fast
    one through vits_decoder.fast.accelerate(model, device, **fast_options)."""
    from vits.models import SynthesizerInfer
    from vits_decoder.fast import accelerate

    state = random_generator_state(hp, seed)
    plain, fast = (SynthesizerInfer.from_hparams(hp).load_exported(state).eval().to(device) for _ in range(2))
    return plain, accelerate(fast, device, **fast_options)
