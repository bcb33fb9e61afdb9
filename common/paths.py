"""Repository root, the default places of the public pretrained weights, installed packages' folders."""
import importlib.util
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WHISPER_CKPT = os.path.join("whisper_pretrain", "large-v2.pt")
HUBERT_CKPT = os.path.join("hubert_pretrain", "hubert-soft-0d54a1f4.pt")
SPEAKER_CKPT = os.path.join("speaker_pretrain", "best_model.pth.tar")
SVC_PRETRAIN = os.path.join("vits_pretrain", "sovits5.0.pretrain.pth")
RMVPE_CKPT = os.path.join("rmvpe_pretrain", "rmvpe.pt")


def package_dir(package):
    """Folder of an installed package, found without executing it (None when not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec and spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    return os.path.dirname(spec.origin) if spec and spec.origin else None
