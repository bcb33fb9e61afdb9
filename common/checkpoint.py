"""Checkpoint loading and saving. Loading always uses `torch.load(weights_only=True)`: a checkpoint is
data, never code; the few non-tensor types the public files contain are allow-listed instead."""
import os
import pickle
import re
import zipfile

import numpy as np
import torch

from common.atomic import atomic_path

MODERN_WEIGHT_NORM = re.compile(r"(^|\.)parametrizations\.weight\.original([01])$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the fix."""


def _safe_globals():
    """numpy scalars/arrays appear in some community checkpoints (e.g. a stored best loss)."""
    try:
        core = getattr(np, "_core", None) or np.core
        return [np.dtype, np.ndarray, core.multiarray.scalar, core.multiarray._reconstruct,
                *(type(np.dtype(t)) for t in ("float32", "float64", "int64", "int32"))]
    except Exception:  # numpy internals moved: allow none of them
        return []


def load_checkpoint(path, what="checkpoint", hint=""):
    """torch.load a file safely; CheckpointError for missing, corrupt or non-torch files. `what` names
    the file's role in messages ("Whisper checkpoint"), `hint` says where to get it."""
    path = os.fspath(path)
    hint = f" {hint}" if hint else ""
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}.{hint}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{what} {path} is empty (0 bytes): the download or save was cut off.{hint}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            # Memory-map zip-format files: a 3 GB Whisper file then costs only the tensors used.
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    # the weights-only unpickler meets foreign bytes with IndexError/KeyError/TypeError too
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError, OSError,
            IndexError, KeyError, TypeError) as e:
        detail = unpickler_detail(e)
        if detail and "global" in detail.lower():
            raise CheckpointError(
                f"{what} {path} holds Python objects besides tensors ({detail}), which could run code when "
                f"loaded: refused. Checkpoints are loaded as data only; use a file of tensors (export or "
                f"download it again from its source).{hint}") from None
        first = detail or (str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        raise CheckpointError(
            f"{what} {path} is not a readable PyTorch checkpoint ({first}). The file is corrupt, "
            f"truncated or of another format: download or export it again.{hint}"
        ) from None


def unpickler_detail(err):
    """What the weights-only unpickler said past PyTorch's hint to set weights_only=False (a hint
    never passed on), e.g. 'unsupported GLOBAL posix.system ...'; None for other errors."""
    text = str(err)
    if not text.startswith("Weights only load failed"):
        return None
    lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    detail = next((line for line in lines if not line.startswith("Check the documentation")), "")
    return detail.replace("Trying to load ", "").replace("WeightsUnpickler error: ", "").rstrip(".") or "refused"


def verify_zip(path, what="checkpoint"):
    """Check the CRC-32 of every record of a zip-format torch file (torch.load does not), so a file
    overwritten in the middle fails instead of loading garbage; legacy (non-zip) files pass."""
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"{what} {path} is damaged ({e}).") from None
    if bad is not None:
        raise CheckpointError(f"{what} {path} is damaged: its record {bad} fails the zip CRC check "
                              f"(the file was overwritten or cut).")


def non_finite_tensors(obj, prefix=""):
    """Names ("model_g/dec.conv_pre.weight") of the float tensors in a nested dict/list holding NaN/inf."""
    found = []
    if torch.is_tensor(obj):
        if obj.is_floating_point() and not bool(torch.isfinite(obj).all()):
            found.append(prefix or "<tensor>")
    elif isinstance(obj, (dict, list, tuple)):
        for key, value in obj.items() if isinstance(obj, dict) else enumerate(obj):
            found += non_finite_tensors(value, f"{prefix}/{key}" if prefix else str(key))
    return found


def require_finite(obj, path, what="checkpoint", hint=""):
    """CheckpointError naming the file's first tensors with NaN/inf (one NaN weight converts to noise)."""
    bad = non_finite_tensors(obj)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise CheckpointError(f"{what} {path} holds NaN or infinite values in {', '.join(bad[:3])}{more}: the "
                              f"file is damaged or was saved from a diverged run.{(' ' + hint) if hint else ''}")


def save_checkpoint(obj, path):
    """torch.save atomically (temp file then rename), so an interrupt never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def require_keys(ckpt, keys, path, what="checkpoint", hint=""):
    """Check a loaded checkpoint dict holds `keys`; say what it holds otherwise."""
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{what} {path} holds a {type(ckpt).__name__}, not a dict.{(' ' + hint) if hint else ''}")
    missing = [k for k in keys if k not in ckpt]
    if missing:
        found = ", ".join(sorted(map(str, ckpt))[:8]) or "nothing"
        raise CheckpointError(
            f"{what} {path} lacks {', '.join(missing)} (it holds: {found}). "
            f"It is not a file of this kind.{(' ' + hint) if hint else ''}"
        )
    return ckpt


def to_legacy_weight_norm(state_dict):
    """Rename torch.nn.utils.parametrizations weight-norm keys ('<m>.parametrizations.weight.original0/1')
    to the legacy '<m>.weight_g' / '<m>.weight_v' of the public checkpoints; legacy keys pass through."""
    return {MODERN_WEIGHT_NORM.sub(lambda m: m[1] + ("weight_g", "weight_v")[int(m[2])], key): value
            for key, value in state_dict.items()}


def sizes_of_layout(read_sizes, state, path, what, hint=""):
    """read_sizes(state): a network's sizes read from its tensor shapes; a state dict of another
    layout (a tensor missing or of the wrong rank) is one CheckpointError naming the file."""
    try:
        return read_sizes(state)
    except (KeyError, IndexError, AttributeError, ValueError) as e:
        raise CheckpointError(f"{what} weights {path} do not have the {what} layout ({type(e).__name__}: {e}); "
                              f"it is not an {what} file. {hint}") from None


def check_state_dict_fits(state_dict, expected, path, what="model", allow_extra=False):
    """One CheckpointError naming every key of `expected` (name -> shape) that `state_dict` lacks or
    holds in another shape, and (unless allow_extra) every key it holds beyond `expected`."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [] if allow_extra else [k for k in state_dict if k not in expected]
    wrong = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(s)}" for k, s in expected.items()
             if k in state_dict and tuple(state_dict[k].shape) != tuple(s)]
    parts = [f"{len(missing)} missing (e.g. {', '.join(missing[:3])})"] if missing else []
    parts += [f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})"] if unexpected else []
    parts += [f"{len(wrong)} of another shape (file vs model, e.g. {'; '.join(wrong[:3])})"] if wrong else []
    if parts:
        raise CheckpointError(
            f"{what} weights in {path} do not fit this model: {', '.join(parts)}. "
            f"Use the config the file was trained with (--config), or a file of this model type."
        )


def load_state_dict_checked(module, state_dict, path, what="model", assign=False):
    """Strict load that reports missing/unexpected keys and shape mismatches in one clear error.
    assign=True makes the given tensors the module's own (for a module built on the meta device)."""
    state_dict = to_legacy_weight_norm(state_dict)
    check_state_dict_fits(state_dict, {k: v.shape for k, v in module.state_dict().items()}, path, what)
    require_finite(state_dict, path, what=f"{what} weights in")
    module.load_state_dict(state_dict, strict=True, assign=assign)
    return module
