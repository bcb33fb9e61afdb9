import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from common.checkpoint import CheckpointError
from common.extractor import chunk_spans, fit_frames
from common.paths import REPO_ROOT
from hubert.inference import HubertSoft
from hubert.model import HubertSoftNet, WeightNormConv1d
from hubert.units import EDGE_PAD, HUBERT_URL, sizes_from_state_dict
from tests.tiny_hubert import make_checkpoint
from tests.tiny_whisper import make_checkpoint as make_whisper_checkpoint
from tests.compat_manifest import load_manifest

SR = 16000
PUBLIC_SIZES = dict(conv_channels=512, width=768, ffn=3072, n_layers=12, pos_kernel=128, pos_groups=16,
                    units=256, n_labels=100)


def noise_wav(n_samples, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(n_samples)).astype(np.float32)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(make_checkpoint(tmp_path_factory.mktemp("hubert") / "tiny.pt"))


@pytest.fixture(scope="module")
def hubert(ckpt):
    return HubertSoft(ckpt, device="cpu")


def test_sizes_come_from_the_file(hubert):
    assert hubert.dim == 256
    assert len(hubert.net.encoder.layers) == 2
    assert hubert.net.feature_projection.projection.in_features == 32


@pytest.mark.parametrize("n_samples", [320, 4800, 4801, 12345, 16000])
def test_padded_network_gives_samples_over_320_frames(hubert, n_samples):
    x = F.pad(torch.from_numpy(noise_wav(n_samples))[None, None], (EDGE_PAD, EDGE_PAD))
    with torch.inference_mode():
        assert hubert.net(x).shape == (1, n_samples // 320, 256)


@pytest.mark.parametrize("n_samples", [4800, 4801, 20 * SR + 5000, 70 * SR + 123])
def test_frame_count_is_samples_over_320(hubert, n_samples):
    out = hubert(noise_wav(n_samples))
    assert out.dtype == np.float32 and out.shape == (n_samples // 320, 256)
    assert np.isfinite(out).all()


def test_chunks_are_independent_20s_pieces_and_deterministic(hubert):
    wav = noise_wav(25 * SR, seed=4)
    whole = hubert(wav)
    assert np.allclose(whole[:1000], hubert(wav[:20 * SR]), atol=1e-5)
    assert np.allclose(whole[1000:], hubert(wav[20 * SR:]), atol=1e-5)
    assert np.array_equal(whole, hubert(wav))


@pytest.mark.parametrize("samples", [400, 401, 4003, 16000])
def test_feature_convolutions_as_row_products_equal_the_convolutions(hubert, samples):
    """The CPU autocast form (channels-last matrix products) is the same arithmetic as the
    convolution stack: checked in float32, where nothing else differs."""
    fe = hubert.net.feature_extractor
    x = torch.from_numpy(noise_wav(2 * samples, seed=samples)).view(2, 1, samples)
    with torch.inference_mode():
        conv = fe(x)
        products = fe.forward_as_products(x, torch.float32)
    assert products.shape == conv.shape
    assert conv.abs().max() > 1e-3
    assert torch.allclose(products, conv, atol=1e-6 * float(conv.abs().max()) + 1e-7), (products - conv).abs().max()


def test_bf16_autocast_inference_takes_the_row_products(hubert, monkeypatch):
    fe = hubert.net.feature_extractor
    calls = []
    real = fe.forward_as_products
    monkeypatch.setattr(fe, "forward_as_products", lambda x, dtype: calls.append(dtype) or real(x, dtype))
    x = torch.from_numpy(noise_wav(4000)).view(1, 1, -1)
    with torch.inference_mode():
        fp32 = fe(x)
        assert not calls
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = fe(x)
    assert calls == [torch.bfloat16] and bf16.dtype == torch.bfloat16
    cosine = F.cosine_similarity(bf16.float()[0], fp32[0], dim=0)  # per frame, across channels
    assert cosine.min() > 0.999


def test_prefixed_and_wrapped_files_load_the_same(tmp_path, hubert):
    wav = noise_wav(8000)
    expect = hubert(wav)
    for name, kwargs in (("prefixed.pt", dict(prefix="module.")), ("wrapped.pt", dict(wrap="state_dict"))):
        other = HubertSoft(str(make_checkpoint(tmp_path / name, **kwargs)), device="cpu")
        assert np.allclose(other(wav), expect, atol=1e-6)


def test_weight_norm_conv_matches_torch_weight_norm():
    torch.manual_seed(0)
    ours = WeightNormConv1d(8, 4, groups=2)
    with torch.no_grad():
        ours.weight_g.uniform_(0.5, 1.5)
    ref = torch.nn.Conv1d(8, 8, 4, padding=2, groups=2)
    ref = torch.nn.utils.parametrizations.weight_norm(ref, name="weight", dim=2)
    with torch.no_grad():
        ref.parametrizations.weight.original0.copy_(ours.weight_g)
        ref.parametrizations.weight.original1.copy_(ours.weight_v)
        ref.bias.copy_(torch.randn(8))
        ours.bias.copy_(ref.bias)
    x = torch.randn(2, 8, 11)
    assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_public_layout_matches_module():
    compat = dict((k, tuple(s)) for k, s in load_manifest("hubert_soft_checkpoint")["state_dict"])
    meta = {k: torch.empty(s, device="meta") for k, s in compat.items()}
    assert sizes_from_state_dict(meta) == PUBLIC_SIZES
    with torch.device("meta"):
        net = HubertSoftNet(**PUBLIC_SIZES)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == compat
    assert net.encoder.layers[0].self_attn.num_heads == 12


def test_missing_checkpoint_names_file_folder_and_source(tmp_path):
    path = tmp_path / "hubert_pretrain" / "hubert-soft-0d54a1f4.pt"
    with pytest.raises(CheckpointError) as err:
        HubertSoft(str(path), device="cpu")
    msg = str(err.value)
    assert str(path) in msg and str(path.parent) in msg and HUBERT_URL in msg and "svc_download.py" in msg


def test_corrupt_foreign_and_damaged_files(tmp_path, ckpt):
    bad = tmp_path / "hubert-soft.pt"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(CheckpointError, match="hubert-soft.pt"):
        HubertSoft(str(bad), device="cpu")
    whisper_file = make_whisper_checkpoint(tmp_path / "large-v2.pt")
    with pytest.raises(CheckpointError, match="large-v2.pt"):
        HubertSoft(str(whisper_file), device="cpu")
    state = torch.load(ckpt, weights_only=True)
    state["norm.weight"] = torch.ones(7)
    torch.save(state, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="damaged.pt"):
        HubertSoft(str(tmp_path / "damaged.pt"), device="cpu")


def test_fit_frames_and_chunk_spans():
    frames = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert fit_frames(frames, 2).tolist() == [[0, 1], [2, 3]]
    assert fit_frames(frames, 5)[3:].tolist() == [[4, 5], [4, 5]]
    assert fit_frames(frames[:0], 2).shape == (2, 2)
    assert chunk_spans(7, 3) == [(0, 3), (3, 6), (6, 7)] and chunk_spans(0, 3) == []


@pytest.mark.slow
def test_cli_writes_units(tmp_path, ckpt):
    wav, out = tmp_path / "in.wav", tmp_path / "o" / "x.vec.npy"
    sf.write(wav, noise_wav(SR), SR)
    cmd = [sys.executable, os.path.join(REPO_ROOT, "hubert", "inference.py"), "-w", str(wav), "-v", str(out),
           "--checkpoint", ckpt, "--device", "cpu"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert np.load(out).shape == (50, 256)


@pytest.mark.slow
def test_cli_missing_checkpoint_exits_with_message(tmp_path, capsys):
    from hubert.inference import main

    with pytest.raises(SystemExit) as err:
        main(["-w", str(tmp_path / "a.wav"), "-v", str(tmp_path / "a.npy"), "--checkpoint", str(tmp_path / "no.pt")])
    message = capsys.readouterr().err
    assert err.value.code == 1 and "no.pt" in message and "svc_download.py" in message
