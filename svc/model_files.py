"""SVC model files: training checkpoints and exported models, told apart by their keys; reading
them, loading the conversion model, exporting.

Training files hold `model_g` with the posterior encoder (`enc_q.*`), the speaker classifier
and `emb_g`; exported files hold `{'model_g': ...}` without them (see
tests/data/compat/sovits5_checkpoint.json). Weight-normalised layers use the legacy
`weight_g`/`weight_v` names either way.

The exported generator holds exactly the weights of SynthesizerInfer (content encoder, flow,
decoder) in its state-dict order, still weight-normalised in the legacy form, so the file
equals what the public svc_export.py writes. Optionally the generator and discriminator are
also saved as a pretrain file ({'model_g', 'model_d'}) to start new training from.
"""
from collections import OrderedDict

import torch

from common.checkpoint import (CheckpointError, check_state_dict_fits, load_checkpoint, require_keys,
                               save_checkpoint, to_legacy_weight_norm)
from vits.models import TRAINING_ONLY_PREFIXES, SynthesizerInfer
from vits_decoder.fast import accelerate

MODEL_HINT = ("Give an exported model (svc_export.py output, e.g. sovits5.0.pth) or a training "
              "checkpoint chkpt/<name>/<name>_<epoch>.pt.")


def is_training_only(key):
    return key.startswith(TRAINING_ONLY_PREFIXES)


def is_training_layout(state_dict):
    return any(is_training_only(k) for k in state_dict)


def drop_training_only(state_dict):
    """The exported subset of a generator state dict, in the original key order."""
    return OrderedDict((k, v) for k, v in state_dict.items() if not is_training_only(k))


def check_tensors(state_dict, path, part):
    if not isinstance(state_dict, dict) or (part == "model_g" and not state_dict):
        raise CheckpointError(f"SVC model {path}: '{part}' is not a state dict of tensors. {MODEL_HINT}")
    bad = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"SVC model {path}: '{part}' holds non-tensor entries (e.g. {bad[0]}). {MODEL_HINT}")


def read_model_file(path):
    """Load an SVC model file; returns the whole dict with `model_g` (and `model_d`) in legacy form."""
    ckpt = load_checkpoint(path, what="SVC model", hint=MODEL_HINT)
    require_keys(ckpt, ["model_g"], path, what="SVC model", hint=MODEL_HINT)
    ckpt = dict(ckpt)
    for part in ("model_g", "model_d"):
        if part in ckpt:
            check_tensors(ckpt[part], path, part)
            ckpt[part] = OrderedDict(to_legacy_weight_norm(ckpt[part]))
    return ckpt


def read_generator(path):
    """The generator state dict (legacy weight-norm names) of an exported or training file."""
    return read_model_file(path)["model_g"]


def load_svc_model(hp, model_path, device="cpu", fast=True):
    """SynthesizerInfer with the weights of an exported model or a training checkpoint, in eval
    mode on `device`; fast=True: accelerated for `device` as conversion runs it (vits_decoder.fast),
    fast=False: the plain reference (the public arithmetic)."""
    model = SynthesizerInfer.from_hparams(hp).load_exported(read_generator(model_path), str(model_path))
    model = model.eval().to(device)
    return accelerate(model, device) if fast else model


def exported_generator(hp, generator, path="<state dict>"):
    """The exported-layout state dict taken from a (training or exported) generator state dict."""
    expected = OrderedDict((k, v.shape) for k, v in SynthesizerInfer.from_hparams(hp).state_dict().items())
    check_state_dict_fits(generator, expected, path, what="SVC model", allow_extra=True)
    return OrderedDict((k, generator[k].detach().clone()) for k in expected)


def export_checkpoint(hp, checkpoint_path, out_path, pretrain_out=None):
    """Write the exported model (and optionally the pretrain file). Returns notes for the user."""
    ckpt = read_model_file(checkpoint_path)
    notes = []
    if not is_training_layout(ckpt["model_g"]):
        notes.append(f"{checkpoint_path} is already an exported model; it is rewritten in the exported layout")
    save_checkpoint({"model_g": exported_generator(hp, ckpt["model_g"], checkpoint_path)}, out_path)
    if pretrain_out:
        if "model_d" not in ckpt or not is_training_layout(ckpt["model_g"]):
            raise CheckpointError(f"{checkpoint_path} has no discriminator (model_d) or no training generator: "
                                  f"a pretrain file needs a training checkpoint chkpt/<name>/<name>_<epoch>.pt.")
        save_checkpoint({"model_g": ckpt["model_g"], "model_d": ckpt["model_d"]}, pretrain_out)
    return notes
