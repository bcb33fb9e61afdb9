"""Training checkpoints in the public so-vits-svc-5.0 layout:
{model_g, model_d, optim_g, optim_d, step, epoch, hp_str}, written atomically, named
<pth_dir>/<name>/<name>_<epoch:04d>.pt, loaded with weights_only=True."""
import glob
import os
import re

from common.checkpoint import (CheckpointError, load_checkpoint, load_state_dict_checked, require_keys,
                               save_checkpoint, to_legacy_weight_norm)

TRAINING_KEYS = ("model_g", "model_d", "optim_g", "optim_d", "step", "epoch", "hp_str")
PRETRAIN_HINT = ("The public pretrain is sovits5.0.pretrain.pth from the so-vits-svc-5.0 release "
                 "(a dict with model_g and model_d); set train.pretrain to \"\" to train from scratch.")


def unwrap(model):
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def checkpoint_path(pth_dir, name, epoch):
    return os.path.join(pth_dir, name, f"{name}_{int(epoch):04d}.pt")


def save_training_checkpoint(path, model_g, model_d, optim_g, optim_d, step, epoch, hp_str):
    state = {
        "model_g": to_legacy_weight_norm(unwrap(model_g).state_dict()),
        "model_d": to_legacy_weight_norm(unwrap(model_d).state_dict()),
        "optim_g": optim_g.state_dict(),
        "optim_d": optim_d.state_dict(),
        "step": int(step),
        "epoch": int(epoch),
        "hp_str": str(hp_str),
    }
    save_checkpoint(state, path)
    return path


def load_resume_checkpoint(path, model_g, model_d, optim_g, optim_d):
    """Restore models and optimizers from a training checkpoint; return it (for step/epoch/hp_str)."""
    ckpt = load_checkpoint(path, what="training checkpoint",
                           hint="Pass a chkpt/<name>/<name>_XXXX.pt file written by svc_trainer.py.")
    require_keys(ckpt, TRAINING_KEYS, path, what="training checkpoint",
                 hint="Exported or pretrain files (model_g only / model_g + model_d) cannot be resumed: "
                      "use them as train.pretrain instead.")
    load_state_dict_checked(unwrap(model_g), ckpt["model_g"], path, what="generator (model_g)")
    load_state_dict_checked(unwrap(model_d), ckpt["model_d"], path, what="discriminator (model_d)")
    for optim, key in ((optim_g, "optim_g"), (optim_d, "optim_d")):
        try:
            optim.load_state_dict(ckpt[key])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"training checkpoint {path}: {key} does not fit this model's optimizer ({e}). "
                                  f"Use the config the run was started with.") from None
    return ckpt


def load_pretrain(path, model_g, model_d):
    """Initialise weights from a pretrain file {model_g, model_d} (model_d optional)."""
    ckpt = load_checkpoint(path, what="pretrain model", hint=PRETRAIN_HINT)
    require_keys(ckpt, ("model_g",), path, what="pretrain model", hint=PRETRAIN_HINT)
    load_state_dict_checked(unwrap(model_g), ckpt["model_g"], path, what="pretrain generator (model_g)")
    loaded_d = isinstance(ckpt.get("model_d"), dict)
    if loaded_d:
        load_state_dict_checked(unwrap(model_d), ckpt["model_d"], path, what="pretrain discriminator (model_d)")
    return loaded_d


def list_checkpoints(folder, name):
    """This run's epoch checkpoints, oldest epoch first."""
    pattern = re.compile(re.escape(name) + r"_(\d{4,})\.pt$")
    found = []
    for path in glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(name)}_*.pt")):
        match = pattern.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def prune_checkpoints(folder, name, keep):
    """Delete all but the newest `keep` epoch checkpoints (keep <= 0: keep all). Returns the deleted."""
    if keep is None or int(keep) <= 0:
        return []
    old = list_checkpoints(folder, name)[: -int(keep)]
    for path in old:
        os.remove(path)
    return old
