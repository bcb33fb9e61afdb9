"""HubertSoft: HuBERT-Soft checkpoint -> soft speech units [samples // 320, 256] at 50 Hz."""
import torch
import torch.nn.functional as F

from common.checkpoint import CheckpointError, load_state_dict_checked
from common.download import WEIGHTS
from common.extractor import (FRAME_SAMPLES, ChunkedExtractor, cpu_has_bf16, half_precision, load_weights,
                              strip_prefix)
from common.paths import HUBERT_CKPT
from hubert.model import HubertSoftNet, receptive_field

HUBERT_URL = WEIGHTS["hubert"].urls[0]
WHAT = "HuBERT-Soft checkpoint"
EDGE_PAD = (receptive_field() - FRAME_SAMPLES) // 2  # zeros on each side so that frames = samples // 320
WRAPPER_KEYS = ("state_dict", "model", "hubert")
SIZE_KEYS = ("feature_extractor.conv0.weight", "feature_projection.projection.weight", "encoder.layers.0.linear1.weight",
             "positional_embedding.conv.weight_v", "proj.weight", "label_embedding.weight")


def unwrap_state_dict(ckpt, path):
    """The raw state dict, also from {'state_dict': ...}-style wrappers and 'module.'-prefixed keys."""
    hint = f"Expected hubert-soft-0d54a1f4.pt ({HUBERT_URL})."
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{WHAT} {path} holds a {type(ckpt).__name__}, not a state dict. {hint}")
    ckpt = next((ckpt[key] for key in WRAPPER_KEYS if isinstance(ckpt.get(key), dict)), ckpt)
    state = strip_prefix(ckpt, "module.")
    missing = [k for k in SIZE_KEYS if k not in state or not torch.is_tensor(state[k])]
    if missing:
        found = ", ".join(sorted(map(str, state))[:6]) or "nothing"
        raise CheckpointError(f"{WHAT} {path} lacks {', '.join(missing)} (it holds {found}): "
                              f"it is not a HuBERT-Soft model file. {hint}")
    return state


def sizes_from_state_dict(state):
    """HubertSoftNet keyword sizes implied by the tensor shapes of a HuBERT-Soft state dict."""
    layers = {k.split(".")[2] for k in state if k.startswith("encoder.layers.")}
    pos = state["positional_embedding.conv.weight_v"].shape  # [width, width / groups, kernel]
    width = state["feature_projection.projection.weight"].shape[0]
    return dict(conv_channels=state["feature_extractor.conv0.weight"].shape[0], width=width,
                ffn=state["encoder.layers.0.linear1.weight"].shape[0], n_layers=len(layers),
                pos_kernel=pos[2], pos_groups=width // max(1, pos[1]), units=state["proj.weight"].shape[0],
                n_labels=state["label_embedding.weight"].shape[0])


class HubertSoft(ChunkedExtractor):
    """Callable: mono float32 16 kHz numpy -> float32 [len // 320, 256] soft units."""

    chunk_seconds = 20

    def __init__(self, checkpoint=HUBERT_CKPT, device="auto", bf16=False):
        """bf16: bfloat16 autocast on a CPU with native bfloat16 (see bench/bench_bf16.py)."""
        super().__init__(device)
        self.bf16 = bool(bf16 and self.device.type == "cpu" and cpu_has_bf16())
        self.checkpoint, ckpt = load_weights(checkpoint, WHAT, WEIGHTS["hubert"])
        state = unwrap_state_dict(ckpt, self.checkpoint)
        sizes = sizes_from_state_dict(state)
        try:
            net = HubertSoftNet(**sizes)
        except (ValueError, RuntimeError, AssertionError) as e:
            raise CheckpointError(f"{WHAT} {self.checkpoint}: unusable sizes {sizes} ({e}).") from None
        self.net = load_state_dict_checked(net, state, self.checkpoint, what="HuBERT-Soft")
        self.net = self.net.eval().to(self.device)
        self.dim = self.net.proj.out_features

    @torch.inference_mode()
    def _run_chunk(self, wav, generator=None):
        x = torch.from_numpy(wav).to(self.device)[None, None]  # [1, 1, T]
        # a clip too short for one frame gets more silence at the end (fit_frames trims)
        x = F.pad(x, (EDGE_PAD, EDGE_PAD + max(0, receptive_field() - x.shape[-1] - 2 * EDGE_PAD)))
        with half_precision(self.device, self.bf16):
            units = self.net(x)[0]  # [frames, 256]
        return units.float().cpu().numpy()
