"""A tiny HuBERT-Soft checkpoint in the public file layout (a raw state dict), random weights.

Key names and shapes are written out from bshall/hubert's layout, not taken from our model, so
loading this file checks that our network reads that layout. Units stay 256 wide.
"""
import math

import torch

KERNELS = (10, 3, 3, 3, 3, 2, 2)


def state_shapes(conv=32, width=32, ffn=64, layers=2, pos_kernel=16, pos_groups=16, units=256, labels=100):
    """[(key, shape)] of a HuBERT-Soft state dict with the given sizes (public: 512, 768, 3072, 12, 128, 16)."""
    shapes = [("masked_spec_embed", (width,))]
    in_ch = 1
    for i, k in enumerate(KERNELS):
        shapes.append((f"feature_extractor.conv{i}.weight", (conv, in_ch, k)))
        if i == 0:
            shapes += [("feature_extractor.norm0.weight", (conv,)), ("feature_extractor.norm0.bias", (conv,))]
        in_ch = conv
    shapes += [("feature_projection.norm.weight", (conv,)), ("feature_projection.norm.bias", (conv,)),
               ("feature_projection.projection.weight", (width, conv)),
               ("feature_projection.projection.bias", (width,)),
               ("positional_embedding.conv.bias", (width,)),
               ("positional_embedding.conv.weight_g", (1, 1, pos_kernel)),
               ("positional_embedding.conv.weight_v", (width, width // pos_groups, pos_kernel)),
               ("norm.weight", (width,)), ("norm.bias", (width,))]
    for i in range(layers):
        p = f"encoder.layers.{i}."
        shapes += [(p + "self_attn.in_proj_weight", (3 * width, width)), (p + "self_attn.in_proj_bias", (3 * width,)),
                   (p + "self_attn.out_proj.weight", (width, width)), (p + "self_attn.out_proj.bias", (width,)),
                   (p + "linear1.weight", (ffn, width)), (p + "linear1.bias", (ffn,)),
                   (p + "linear2.weight", (width, ffn)), (p + "linear2.bias", (width,)),
                   (p + "norm1.weight", (width,)), (p + "norm1.bias", (width,)),
                   (p + "norm2.weight", (width,)), (p + "norm2.bias", (width,))]
    shapes += [("proj.weight", (units, width)), ("proj.bias", (units,)), ("label_embedding.weight", (labels, units))]
    return shapes


def _random(key, shape, gen):
    if key.endswith("weight_g") or (len(shape) == 1 and "norm" in key and key.endswith(".weight")):
        return 1.0 + 0.1 * torch.randn(shape, generator=gen)  # norm gains near 1
    if len(shape) == 1 or key == "label_embedding.weight":
        return 0.02 * torch.randn(shape, generator=gen)
    return torch.randn(shape, generator=gen) / math.sqrt(math.prod(shape[1:]))


def make_checkpoint(path, seed=0, prefix="", wrap=None, **sizes):
    """Write the tiny state dict; `prefix='module.'` / `wrap='state_dict'` mimic other ways it is saved."""
    gen = torch.Generator().manual_seed(seed)
    state = {prefix + k: _random(k, s, gen) for k, s in state_shapes(**sizes)}
    torch.save({wrap: state} if wrap else state, path)
    return path
