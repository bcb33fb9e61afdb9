"""Merge two SVC models: rate * A + (1 - rate) * B for every weight, in the inputs' layout (an exported
and a training file merge into an exported model); discriminators (`model_d`) merge too when both hold
them, so a merged training pair can be a pretrain file."""
from collections import OrderedDict

import torch

from common.checkpoint import CheckpointError, save_checkpoint
from svc.model_files import drop_training_only, is_training_layout, read_model_file


def check_rate(rate):
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"--rate {rate} is outside [0, 1]: it is the share of --model1 (0.4 = 40% A, 60% B).")
    return rate


def merge_state_dicts(a, b, rate, name_a="model1", name_b="model2"):
    """OrderedDict in a's key order; float tensors interpolated, other tensors must be equal."""
    only = [(name, [k for k in x if k not in y]) for name, x, y in ((name_a, a, b), (name_b, b, a))]
    parts = [f"{len(keys)} only in {name} (e.g. {', '.join(keys[:3])})" for name, keys in only if keys]
    if parts:
        raise CheckpointError(f"cannot merge {name_a} and {name_b}: their weights differ: {'; '.join(parts)}. "
                              f"Merge models of the same architecture and config.")
    wrong = [f"{k} {tuple(a[k].shape)} vs {tuple(b[k].shape)}" for k in a if a[k].shape != b[k].shape]
    if wrong:
        raise CheckpointError(f"cannot merge {name_a} and {name_b}: {len(wrong)} weights have different shapes "
                              f"(e.g. {'; '.join(wrong[:3])}). They were trained with different configs.")
    merged = OrderedDict()
    for key, va in a.items():
        vb = b[key]
        if va.is_floating_point():
            merged[key] = (rate * va.double() + (1.0 - rate) * vb.double()).to(va.dtype)
        elif torch.equal(va, vb):
            merged[key] = va.clone()
        else:
            raise CheckpointError(f"cannot merge {name_a} and {name_b}: integer tensor {key} differs between them.")
    return merged


def merge_files(path_a, path_b, rate):
    """Merged checkpoint dict: {'model_g': ...} (+ 'model_d' when both inputs have one)."""
    rate = check_rate(rate)
    ckpt_a, ckpt_b = read_model_file(path_a), read_model_file(path_b)
    g_a, g_b = ckpt_a["model_g"], ckpt_b["model_g"]
    notes = []
    if is_training_layout(g_a) != is_training_layout(g_b):
        g_a, g_b = drop_training_only(g_a), drop_training_only(g_b)
        notes.append("one input is a training checkpoint and one is exported: the result is an exported model")
    merged = {"model_g": merge_state_dicts(g_a, g_b, rate, path_a, path_b)}
    if "model_d" in ckpt_a and "model_d" in ckpt_b and not notes:
        merged["model_d"] = merge_state_dicts(ckpt_a["model_d"], ckpt_b["model_d"], rate, path_a, path_b)
    return merged, notes


def merge_models(path_a, path_b, rate, out_path):
    """Merge two model files and write the result atomically; returns notes for the user."""
    merged, notes = merge_files(path_a, path_b, rate)
    save_checkpoint(merged, out_path)
    return notes
