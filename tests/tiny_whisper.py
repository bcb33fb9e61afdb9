"""A tiny Whisper checkpoint in the real OpenAI file format, with random weights, for tests.

The key names are written out here from the OpenAI layout (not taken from our model), so a test
that loads this file checks that our encoder really reads that layout.
"""
import math

import torch


def _sinusoids(length, width):
    half = width // 2
    rates = torch.exp(-math.log(10000.0) / (half - 1) * torch.arange(half, dtype=torch.float32))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * rates[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def encoder_shapes(n_mels, n_audio_ctx, n_audio_state, n_audio_layer):
    """[(key, shape)] of an OpenAI Whisper encoder, in file order."""
    w = n_audio_state
    shapes = [("encoder.positional_embedding", (n_audio_ctx, w)),
              ("encoder.conv1.weight", (w, n_mels, 3)), ("encoder.conv1.bias", (w,)),
              ("encoder.conv2.weight", (w, w, 3)), ("encoder.conv2.bias", (w,))]
    for i in range(n_audio_layer):
        p = f"encoder.blocks.{i}."
        shapes += [(p + "attn.query.weight", (w, w)), (p + "attn.query.bias", (w,)),
                   (p + "attn.key.weight", (w, w)),
                   (p + "attn.value.weight", (w, w)), (p + "attn.value.bias", (w,)),
                   (p + "attn.out.weight", (w, w)), (p + "attn.out.bias", (w,)),
                   (p + "attn_ln.weight", (w,)), (p + "attn_ln.bias", (w,)),
                   (p + "mlp.0.weight", (4 * w, w)), (p + "mlp.0.bias", (4 * w,)),
                   (p + "mlp.2.weight", (w, 4 * w)), (p + "mlp.2.bias", (w,)),
                   (p + "mlp_ln.weight", (w,)), (p + "mlp_ln.bias", (w,))]
    shapes += [("encoder.ln_post.weight", (w,)), ("encoder.ln_post.bias", (w,))]
    return shapes


def _random(key, shape, gen):
    if key.endswith("positional_embedding"):
        return _sinusoids(*shape)
    if key.endswith("ln.weight") or key.endswith("ln_post.weight"):
        return 1.0 + 0.1 * torch.randn(shape, generator=gen)
    if len(shape) == 1:
        return 0.02 * torch.randn(shape, generator=gen)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=gen) / math.sqrt(fan_in)


def make_checkpoint(path, n_mels=80, n_audio_state=16, n_audio_head=2, n_audio_layer=4, seed=0,
                    dtype=torch.float16):
    """Write {'dims', 'model_state_dict'} like large-v2.pt, tiny; a few decoder.* keys included.

    The public files store float16 tensors; so does this one unless `dtype` says otherwise.
    """
    dims = dict(n_mels=n_mels, n_audio_ctx=1500, n_audio_state=n_audio_state, n_audio_head=n_audio_head,
                n_audio_layer=n_audio_layer, n_vocab=50, n_text_ctx=8, n_text_state=n_audio_state,
                n_text_head=n_audio_head, n_text_layer=1)
    gen = torch.Generator().manual_seed(seed)
    state = {k: _random(k, s, gen) for k, s in encoder_shapes(n_mels, 1500, n_audio_state, n_audio_layer)}
    state["decoder.token_embedding.weight"] = torch.randn(50, n_audio_state, generator=gen)
    state["decoder.positional_embedding"] = torch.randn(8, n_audio_state, generator=gen)
    state["decoder.ln.weight"] = torch.ones(n_audio_state)
    state["decoder.ln.bias"] = torch.zeros(n_audio_state)
    state = {k: v.to(dtype) for k, v in state.items()}
    torch.save({"dims": dims, "model_state_dict": state}, path)
    return path
