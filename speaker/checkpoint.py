"""Load `speaker_pretrain/best_model.pth.tar` (or a tiny file in the same layout) into LSTMSpeakerEncoder."""
import os

from common import paths
from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked
from common.download import WEIGHTS
from common.extractor import resolve_weights
from speaker.audio import N_MELS
from speaker.lstm import LSTMSpeakerEncoder, sizes_from_state_dict

WHAT = "Speaker encoder checkpoint"


def where_to_get(path):
    """The fix for a missing or broken speaker checkpoint: what file, which folder, where from."""
    weight = WEIGHTS["speaker"]
    folder = os.path.dirname(os.path.abspath(path))
    return (f"Put best_model.pth.tar (the LSTM speaker encoder used by so-vits-svc-5.0) into the folder {folder}/: "
            f"run `python svc_download.py --only speaker`, or download it by hand from {weight.urls[-1]} "
            f"(folder: {weight.page}).")


def model_state(ckpt, path):
    """The state dict inside a checkpoint: its 'model' entry (Coqui/Mozilla layout) or the dict itself."""
    if isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict):
        state = ckpt["model"]
    elif isinstance(ckpt, dict) and any(str(k).startswith(("layers.", "module.layers.")) for k in ckpt):
        state = ckpt
    else:
        held = ", ".join(sorted(map(str, ckpt))[:8]) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{WHAT} {path} has no 'model' state dict (it holds: {held or 'nothing'}). "
                              f"It is not a speaker encoder file. {where_to_get(path)}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def load_speaker_model(path=paths.SPEAKER_CKPT):
    """Build an LSTMSpeakerEncoder sized from the file's tensors and load its weights (CPU, eval mode)."""
    path = resolve_weights(path)
    state = model_state(load_checkpoint(path, what=WHAT, hint=where_to_get(path)), path)
    if "layers.lstm.weight_ih_l0" in state:
        raise CheckpointError(f"{WHAT} {path} is the variant without per-layer projections, which "
                              f"so-vits-svc-5.0 does not use. {where_to_get(path)}")
    try:
        input_dim, proj_dim, lstm_dim, num_layers = sizes_from_state_dict(state)
    except (KeyError, IndexError, AttributeError):
        found = ", ".join(sorted(state)[:4]) or "nothing"
        raise CheckpointError(f"{WHAT} {path} lacks the LSTM weights layers.0.lstm.* (it holds: {found}). "
                              f"{where_to_get(path)}") from None
    if input_dim != N_MELS:
        raise CheckpointError(f"{WHAT} {path} expects {input_dim} mel bands but this front end makes {N_MELS} "
                              f"(the so-vits-svc-5.0 speaker encoder). {where_to_get(path)}")
    model = LSTMSpeakerEncoder(input_dim, proj_dim, lstm_dim, num_layers)
    load_state_dict_checked(model, state, path, what="Speaker encoder")
    return model.eval()
