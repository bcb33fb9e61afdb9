"""Issue 13 options: bf16 content extractors (kept only within cosine 0.999 of fp32), meta-built
Whisper encoder taking the checkpoint's tensors, and what svc_inference.py --fast selects."""
import numpy as np
import pytest
import torch

from common.extractor import cpu_has_bf16
from hubert.units import HubertSoft
from svc.settings import from_args
from tests.tiny_hubert import make_checkpoint as make_hubert
from tests.tiny_whisper import make_checkpoint as make_whisper
from whisper.ppg import WhisperPPG


def tone(seconds=2.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def min_cosine(a, b):
    num = (a * b).sum(axis=1)
    return float((num / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def test_whisper_encoder_owns_converted_weights(tmp_path):
    ppg = WhisperPPG(make_whisper(tmp_path / "w.pt"), device="cpu", noise=False)
    tensors = list(ppg.encoder.parameters()) + list(ppg.encoder.buffers())
    assert all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16")
@pytest.mark.parametrize("kind", ["whisper", "hubert"])
def test_bf16_extractors_stay_close_to_fp32(tmp_path, kind):
    if kind == "whisper":
        path = make_whisper(tmp_path / "w.pt", n_audio_state=64, n_audio_head=4)
        fp32, bf16 = (WhisperPPG(path, device="cpu", noise=False, bf16=b) for b in (False, True))
        assert bf16.encoder.blocks[0].mlp[0].weight.dtype == torch.bfloat16  # half the memory
    else:
        path = make_hubert(tmp_path / "h.pt")
        fp32, bf16 = (HubertSoft(path, device="cpu", bf16=b) for b in (False, True))
    assert bf16.bf16 and not fp32.bf16
    a, b = fp32(tone()), bf16(tone())
    assert a.shape == b.shape and not np.array_equal(a, b)  # really another precision
    assert min_cosine(a, b) >= 0.999


def settings(*flags):
    import svc_inference

    return from_args(svc_inference.build_parser().parse_args(["--model", "m.pth", "--wave", "in.wav", *flags]))


def test_fast_flag_selects_bf16_and_fcpe_unless_told_otherwise():
    plain = settings()  # FCPE is the conversion default too (as the preprocessing's); --crepe-model picks CREPE
    assert (plain.pitch_method, plain.crepe_model, plain.fast) == ("fcpe", "full", False)
    assert settings("--crepe-model", "full").pitch_method == "crepe"
    fast = settings("--fast")
    assert (fast.pitch_method, fast.fast) == ("fcpe", True)
    tiny = settings("--fast", "--crepe-model", "tiny")
    assert (tiny.pitch_method, tiny.crepe_model) == ("crepe", "tiny")
    chosen = settings("--fast", "--pitch-method", "harvest")
    assert (chosen.pitch_method, chosen.fast) == ("harvest", True)
