"""Layer helpers: legacy weight norm (`weight_g` / `weight_v` keys, the public checkpoints' form,
its FutureWarning silenced in this one place), folding it into plain weights, discriminator norms."""
import warnings

import torch
from torch.nn.utils.weight_norm import WeightNorm


def weight_norm(module):
    """Wrap `module` with legacy weight norm (state-dict keys `weight_g`, `weight_v`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*weight_norm.*")
        return torch.nn.utils.weight_norm(module)


def has_weight_norm(module):
    return any(isinstance(hook, WeightNorm) for hook in module._forward_pre_hooks.values())


def fold_weight_norm_state(state_dict):
    """Turn legacy `<m>.weight_g` / `<m>.weight_v` pairs of a state dict into `<m>.weight`."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith("weight_v"):
            stem = key[: -len("weight_v")]
            if stem + "weight_g" not in state_dict:
                raise KeyError(f"{key} has no matching {stem}weight_g")
            out[stem + "weight"] = torch._weight_norm(value, state_dict[stem + "weight_g"], 0)
        elif not key.endswith("weight_g"):
            out[key] = value
    return out


def norm_layer(use_spectral_norm):
    """weight_norm (legacy keys) or spectral_norm, as a discriminator's config flag asks."""
    return torch.nn.utils.spectral_norm if use_spectral_norm else weight_norm
