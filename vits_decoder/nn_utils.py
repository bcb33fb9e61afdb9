"""Layer helpers of the decoder (and the rest of the network): legacy weight norm, padding, init.

Legacy weight normalisation (`weight_g` / `weight_v` keys) without the deprecation noise. The public checkpoints store weight-normalised layers in the legacy form of
`torch.nn.utils.weight_norm`, so the network keeps using it; the FutureWarning it raises is
silenced here, in one place.
"""
import contextlib
import warnings

import torch
from torch.nn.utils.weight_norm import WeightNorm


@contextlib.contextmanager
def quiet_weight_norm():
    """Legacy weight norm's FutureWarning silenced inside (the one place it is)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*weight_norm.*")
        yield


def weight_norm(module, name="weight"):
    """Wrap `module` with legacy weight norm (state-dict keys `<name>_g`, `<name>_v`)."""
    with quiet_weight_norm():
        return torch.nn.utils.weight_norm(module, name)


def has_weight_norm(module):
    return any(isinstance(hook, WeightNorm) for hook in module._forward_pre_hooks.values())


def fold_weight_norm_state(state_dict):
    """Turn legacy `<m>.weight_g` / `<m>.weight_v` pairs of a state dict into `<m>.weight`."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith(".weight_g") or key == "weight_g":
            continue
        if key.endswith("weight_v"):
            stem = key[: -len("weight_v")]
            g = state_dict.get(stem + "weight_g")
            if g is None:
                raise KeyError(f"{key} has no matching {stem}weight_g")
            out[stem + "weight"] = torch._weight_norm(value, g, 0)
            continue
        out[key] = value
    return out


def norm_layer(use_spectral_norm):
    """weight_norm (legacy keys) or spectral_norm, as a discriminator's config flag asks."""
    if not use_spectral_norm:
        return weight_norm

    def wrap(module):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.nn.utils.spectral_norm(module)

    return wrap


def get_padding(kernel_size, dilation=1):
    """'Same' padding of an odd kernel with the given dilation."""
    return (kernel_size * dilation - dilation) // 2


def init_conv_normal(module, std=0.01):
    """Normal(0, std) initial weights for convolution layers (HiFi-GAN / BigVGAN habit)."""
    if "Conv" in type(module).__name__:
        module.weight.data.normal_(0.0, std)
