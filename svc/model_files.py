"""SVC model files: training checkpoints (`model_g` with `enc_q.*`, the speaker classifier and
`emb_g`) and exported models (`{'model_g': ...}` without them, in SynthesizerInfer's state-dict order,
as the public svc_export.py writes; tests/data/compat/sovits5_checkpoint.json); weight-normalised
layers use the legacy `weight_g`/`weight_v` names either way. Reading, loading, exporting.
"""
from collections import OrderedDict

import torch

from common.checkpoint import (CheckpointError, check_state_dict_fits, load_checkpoint, require_keys,
                               save_checkpoint, to_legacy_weight_norm)
from vits.models import TRAINING_ONLY_PREFIXES, SynthesizerInfer
from vits_decoder.fast import accelerate

MODEL_HINT = ("Give an exported model (svc_export.py output, e.g. sovits5.0.pth) or a training "
              "checkpoint chkpt/<name>/<name>_<epoch>.pt.")


def is_training_layout(state_dict):
    return any(k.startswith(TRAINING_ONLY_PREFIXES) for k in state_dict)


def drop_training_only(state_dict):
    """The exported subset of a generator state dict, in the original key order."""
    return OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(TRAINING_ONLY_PREFIXES))


def read_model_file(path):
    """Load an SVC model file; returns the whole dict with `model_g` (and `model_d`) in legacy form."""
    ckpt = load_checkpoint(path, what="SVC model", hint=MODEL_HINT)
    require_keys(ckpt, ["model_g"], path, what="SVC model", hint=MODEL_HINT)
    ckpt = dict(ckpt)
    for part in ("model_g", "model_d"):
        if part in ckpt:
            state_dict = ckpt[part]
            if not isinstance(state_dict, dict) or (part == "model_g" and not state_dict):
                raise CheckpointError(f"SVC model {path}: '{part}' is not a state dict of tensors. "
                                      f"{MODEL_HINT}")
            bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
            if bad:
                raise CheckpointError(f"SVC model {path}: '{part}' holds non-tensor entries (e.g. {bad[0]}). "
                                      f"{MODEL_HINT}")
            ckpt[part] = OrderedDict(to_legacy_weight_norm(state_dict))
    return ckpt


def load_svc_model(hp, model_path, device="cpu", fast=True):
    """SynthesizerInfer with the weights of an exported model or a training checkpoint, in eval
    mode on `device`; fast=True: accelerated for `device` as conversion runs it (vits_decoder.fast),
    fast=False: the plain reference (the public arithmetic)."""
    generator = read_model_file(model_path)["model_g"]
    model = SynthesizerInfer.from_hparams(hp).load_exported(generator, str(model_path)).eval().to(device)
    return accelerate(model, device) if fast else model


def export_checkpoint(hp, checkpoint_path, out_path, pretrain_out=None):
    """Write the exported model (and optionally the pretrain file). Returns notes for the user."""
    ckpt = read_model_file(checkpoint_path)
    notes = []
    if not is_training_layout(ckpt["model_g"]):
        notes.append(f"{checkpoint_path} is already an exported model; it is rewritten in the exported layout")
    generator = ckpt["model_g"]
    expected = OrderedDict((k, v.shape) for k, v in SynthesizerInfer.from_hparams(hp).state_dict().items())
    check_state_dict_fits(generator, expected, checkpoint_path, what="SVC model", allow_extra=True)
    save_checkpoint({"model_g": OrderedDict((k, generator[k].detach().clone()) for k in expected)}, out_path)
    if pretrain_out:
        if "model_d" not in ckpt or not is_training_layout(ckpt["model_g"]):
            raise CheckpointError(f"{checkpoint_path} has no discriminator (model_d) or no training generator: "
                                  f"a pretrain file needs a training checkpoint chkpt/<name>/<name>_<epoch>.pt.")
        save_checkpoint({"model_g": ckpt["model_g"], "model_d": ckpt["model_d"]}, pretrain_out)
    return notes
