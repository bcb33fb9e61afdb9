"""WhisperPPG: OpenAI Whisper checkpoint -> phonetic posteriorgram [samples // 320, width] at 50 Hz."""
import re

import torch

from common.checkpoint import CheckpointError, load_state_dict_checked, require_keys
from common.download import WEIGHTS
from common.extractor import ChunkedExtractor, cpu_has_bf16, half_precision, load_weights
from common.paths import WHISPER_CKPT
from whisper.log_mel import log_mel, mel_filters
from whisper.model import WhisperEncoder, ppg_block_count

WHISPER_URL = WEIGHTS["whisper"].urls[0]
WHAT = "Whisper checkpoint"
DIM_KEYS = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")
NOISE_STD = 0.1


def _shape(state, key, path):
    if key not in state:
        raise CheckpointError(f"{WHAT} {path} lacks '{key}': it is not an OpenAI Whisper model file.")
    return tuple(state[key].shape)


def encoder_from_checkpoint(ckpt, path, matrix_dtype=torch.float32):
    """The truncated encoder from an OpenAI {'dims', 'model_state_dict'} dict (decoder.* and the blocks
    after the PPG layer ignored). Built without storage, it takes the checkpoint's tensors as its own (no
    random init, no second copy): weight matrices in `matrix_dtype` (bfloat16 for the bf16 path), the rest
    float32."""
    hint = f"Expected an OpenAI Whisper file such as large-v2.pt ({WHISPER_URL})."
    require_keys(ckpt, ("dims", "model_state_dict"), path, what=WHAT, hint=hint)
    dims, state = ckpt["dims"], ckpt["model_state_dict"]
    if not isinstance(dims, dict) or any(k not in dims for k in DIM_KEYS):
        raise CheckpointError(f"{WHAT} {path}: 'dims' lacks some of {', '.join(DIM_KEYS)}. {hint}")
    block_of = {k: int(m.group(1)) for k in state for m in [re.match(r"encoder\.blocks\.(\d+)\.", k)] if m}
    width, mels = _shape(state, "encoder.conv1.weight", path)[:2]
    from_shapes = {"n_audio_state": width, "n_mels": mels, "n_audio_layer": len(set(block_of.values())),
                   "n_audio_ctx": _shape(state, "encoder.positional_embedding", path)[0]}
    wrong = [f"{k}={dims[k]} but the weights say {v}" for k, v in from_shapes.items() if int(dims[k]) != v]
    if wrong:
        raise CheckpointError(f"{WHAT} {path}: 'dims' disagrees with the weights ({'; '.join(wrong)}). "
                              f"The file is damaged or was edited. {hint}")
    keep = ppg_block_count(int(dims["n_audio_layer"]))
    encoder_state = {
        k[len("encoder."):]: v.to(matrix_dtype if v.dim() >= 2 and "positional" not in k else torch.float32)
        for k, v in state.items() if k.startswith("encoder.") and block_of.get(k, 0) < keep}
    try:
        with torch.device("meta"):
            encoder = WhisperEncoder(int(dims["n_mels"]), int(dims["n_audio_ctx"]), int(dims["n_audio_state"]),
                                     int(dims["n_audio_head"]), keep)
    except ValueError as e:
        raise CheckpointError(f"{WHAT} {path}: unusable dims ({e}). {hint}") from None
    return load_state_dict_checked(encoder, encoder_state, path, what="Whisper encoder", assign=True)


class WhisperPPG(ChunkedExtractor):
    """Callable: mono float32 16 kHz numpy -> float32 [len // 320, dim] PPG."""

    chunk_seconds = 15

    def __init__(self, checkpoint=WHISPER_CKPT, device="auto", noise=True, bf16=False):
        """bf16: on a CPU with native bfloat16 (AVX512-BF16 / AMX), run the encoder's matrix
        products in bfloat16 (~3.6x faster for large-v2 on 2 cores; PPG cosine to fp32 > 0.9999,
        bench/bench_whisper.py); ignored elsewhere."""
        super().__init__(device)
        self.noise = noise
        self.bf16 = bool(bf16 and self.device.type == "cpu" and cpu_has_bf16())
        self.checkpoint, ckpt = load_weights(checkpoint, WHAT, WEIGHTS["whisper"])
        matrix_dtype = torch.bfloat16 if self.bf16 else torch.float32
        self.encoder = encoder_from_checkpoint(ckpt, self.checkpoint, matrix_dtype).eval().to(self.device)
        del ckpt
        self.n_mels, self.dim = self.encoder.conv1.in_channels, self.encoder.ln_post.normalized_shape[0]
        self.filters = mel_filters(self.n_mels, self.device)

    def _chunk_generators(self, count):
        """With dither on, a generator per chunk seeded from torch's global one, in chunk order
        (so --seed still decides the dither, however the chunks are scheduled)."""
        if not self.noise:
            return super()._chunk_generators(count)
        seeds = torch.randint(0, 2 ** 62, (count,)).tolist()
        return [torch.Generator(self.device).manual_seed(seed) for seed in seeds]

    @torch.inference_mode()
    def _run_chunk(self, wav, generator=None):
        mel = log_mel(torch.from_numpy(wav).to(self.device), self.n_mels, self.filters)  # [n_mels, T]
        if self.noise:  # so-vits-svc-5.0 dithers the log-mel before the encoder
            noise = torch.randn(mel.shape, generator=generator, device=mel.device, dtype=mel.dtype)
            mel = mel + NOISE_STD * noise
        with half_precision(self.device, self.bf16):
            ppg = self.encoder(mel[None])[0]  # [ceil(T / 2), dim]
        return ppg.float().cpu().numpy()
