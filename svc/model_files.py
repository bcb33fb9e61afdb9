"""Reading SVC model files: training checkpoints and exported models, told apart by their keys.

Training files hold `model_g` with the posterior encoder (`enc_q.*`), the speaker classifier
and `emb_g`; exported files hold `{'model_g': ...}` without them (see
shared/compat/sovits5_checkpoint.json). Weight-normalised layers use the legacy
`weight_g`/`weight_v` names either way.
"""
from collections import OrderedDict

import torch

from common.checkpoint import CheckpointError, load_checkpoint, require_keys, to_legacy_weight_norm

# generator parts used only in training; the exported model has none of them
TRAINING_ONLY_PREFIXES = ("enc_q.", "speaker_classifier.", "emb_g.")

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


def check_fits(state_dict, expected, path, config_hint="--config"):
    """Every key of `expected` (name -> shape) present in `state_dict` with that shape."""
    missing = [k for k in expected if k not in state_dict]
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(s)}" for k, s in expected.items()
             if k in state_dict and tuple(state_dict[k].shape) != tuple(s)]
    if missing or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} weights missing (e.g. {', '.join(missing[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} of another shape (file vs config, e.g. {'; '.join(wrong[:3])})")
        raise CheckpointError(
            f"SVC model {path} does not fit the model built from the config: {', '.join(parts)}. "
            f"Pass the config the model was trained with ({config_hint}), or a so-vits-svc-5.0 model file."
        )
