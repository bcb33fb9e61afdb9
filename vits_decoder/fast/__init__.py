"""The CPU fast path behind one entry, accelerate(model, device): it swaps plain modules' classes, in
place and once, for subclasses here that compute the same within float rounding (tests/test_fastpath.py
holds the bounds); state-dict keys stay, and every fast forward runs the plain one while tracing."""
import torch
from torch.nn.utils.weight_norm import WeightNorm

from vits_decoder.alias import SnakeAlias
from vits_decoder.generator import AMPBlock, Generator


def tracing():
    """True while TorchScript traces or ONNX exports: the fast forms' loops depend on the input
    length and would be frozen into the graph, so the plain forms run."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def fold_weight_norm(model):
    """Replace every legacy weight norm under `model` by the weight it computes (g * v / |v|)."""
    for module in model.modules():
        for hook in [h for h in module._forward_pre_hooks.values() if isinstance(h, WeightNorm)]:
            torch.nn.utils.remove_weight_norm(module, hook.name)
    return model


def accelerate(model, device, training=False, compiled=True):
    """The model (any module holding the decoder or the attention) switched to the fast path for
    `device`, in place; training=True keeps weight norm and autograd-only forms. compiled=False
    takes the torch polyphase activation instead of the numba one (benches, tests)."""
    from vits_decoder.fast import attention, fastconv, fused, polyphase, tiled

    cpu = torch.device(device).type == "cpu"
    if not training:
        fold_weight_norm(model)
    for module in list(model.modules()):
        if attention.suits(module):
            module.__class__ = attention.banded(type(module))
        elif not cpu:
            continue
        elif isinstance(module, SnakeAlias) and polyphase.suits(module):
            module.__class__ = fused.CompiledSnake if compiled else polyphase.PolyphaseSnake
        elif training:
            continue
        elif isinstance(module, AMPBlock):
            for conv in [*module.convs1, *module.convs2]:
                if fastconv.suits(conv):
                    conv.__class__ = fastconv.TapConv1d
        elif isinstance(module, Generator):
            module.__class__ = tiled.TiledGenerator
    if cpu and compiled and not training:
        fused.prepare()  # compile the kernel while the rest loads (training forks loaders first)
    return model
