"""ONNX export of the conversion generator: onnxruntime vs PyTorch, dynamic length, CLI, errors."""
import builtins
import os

import numpy as np
import pytest
import torch

from common.atomic import is_temp_file
from common.checkpoint import save_checkpoint
from svc import onnx_export
from svc.model_files import load_svc_model
from vits_decoder.fast import accelerate
from svc.onnx_export import (INPUT_NAMES, OUTPUT_NAMES, OnnxGenerator, OnnxMismatchError, OnnxUnavailableError,
                             TraceableSnakeAlias, example_inputs, export_onnx)

pytestmark = pytest.mark.slow  # full ONNX exports: not in the quick loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny.yaml")


@pytest.fixture(scope="module")
def training_ckpt(hp, tmp_path_factory):
    """A tiny training checkpoint with every weight nudged off its initial value (the flow's
    zero-initialised output layers and the identity speaker adapter then do real work) and
    the decoder's up-sampling gains raised (at their N(0, 0.01) start the latent's path fades
    ~100x per stage and the audio would hang on the NSF source alone)."""
    from vits.models import SynthesizerTrn

    torch.manual_seed(0)
    net_g = SynthesizerTrn.from_hparams(hp)
    with torch.no_grad():
        for p in net_g.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for up in net_g.dec.ups:
            up.weight_g.mul_(30.0)
    path = tmp_path_factory.mktemp("onnx") / "tiny_1.pt"
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": {}, "optim_g": {}, "optim_d": {},
                     "step": 1, "epoch": 1, "hp_str": ""}, path)
    return path


@pytest.fixture(scope="module")
def exported_onnx(hp, training_ckpt, tmp_path_factory):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = tmp_path_factory.mktemp("onnx_out") / "model.onnx"
    return export_onnx(hp, training_ckpt, path, check_frames=(16, 37)), path


def run_onnx(path, inputs):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs)})[0]


def test_export_checks_two_lengths_and_writes_a_valid_model(exported_onnx):
    import onnx

    report, path = exported_onnx
    assert [t for _, t, _ in report.checks] == [16, 37]
    assert all(d <= 1e-3 for _, _, d in report.checks)
    assert not any(is_temp_file(f) for f in os.listdir(path.parent))
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in model.graph.input] == list(INPUT_NAMES)
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike"}


@pytest.mark.parametrize("batch,frames", [(1, 3), (2, 41)])
def test_onnxruntime_matches_synthesizer_inference(hp, training_ckpt, exported_onnx, batch, frames):
    """Zero prior noise: the graph equals SynthesizerInfer.inference at the prior mean, at
    lengths and batch sizes other than the traced ones."""
    _, path = exported_onnx
    infer = load_svc_model(hp, training_ckpt)
    ppg, vec, pit, spk, noise, source = example_inputs(infer, hp, frames, batch=batch, seed=5)
    lengths = torch.full((batch,), frames, dtype=torch.long)
    expected = infer.inference(ppg, vec, pit, spk, lengths, source, noise_scale=0.0).numpy()
    got = run_onnx(path, (ppg, vec, pit, spk, torch.zeros_like(noise), source))
    assert got.shape == (batch, 1, frames * hp.data.hop_length)
    assert np.abs(got).max() > 1e-2  # a real signal, not silence
    assert np.abs(got - expected).max() <= 1e-3


def test_noise_input_is_the_prior_sample(hp, training_ckpt, exported_onnx):
    _, path = exported_onnx
    infer = load_svc_model(hp, training_ckpt)
    inputs = example_inputs(infer, hp, 20, seed=2)
    with torch.no_grad():
        expected = OnnxGenerator(infer)(*inputs).numpy()
    got = run_onnx(path, inputs)
    assert np.abs(got - expected).max() <= 1e-3
    silent = run_onnx(path, inputs[:4] + (torch.zeros_like(inputs[4]),) + inputs[5:])
    assert np.abs(got - silent).max() > 1e-3  # the noise input changes the output


def test_traceable_activation_equals_the_plain_and_fast_paths():
    from vits_decoder.alias import SnakeAlias

    torch.manual_seed(0)
    alias = SnakeAlias(6)
    with torch.no_grad():
        alias.act.alpha.normal_()
        alias.act.beta.normal_()
    x = torch.randn(2, 6, 50)
    traced = TraceableSnakeAlias(alias)
    with torch.no_grad():
        plain = alias(x)
        assert torch.allclose(traced(x), plain, atol=1e-6)
        assert torch.allclose(traced(x), accelerate(alias, "cpu")(x), atol=1e-5)


@pytest.mark.slow
def test_cli_flag_writes_onnx_from_an_exported_model(hp, training_ckpt, tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import svc_export

    pth, out = tmp_path / "sovits5.0.pth", tmp_path / "model.onnx"
    svc_export.main(["-c", TINY, "-p", str(training_ckpt), "--out", str(pth)])
    svc_export.main(["-c", TINY, "-p", str(pth), "--out", str(tmp_path / "again.pth"), "--onnx", str(out)])
    printed = capsys.readouterr().out
    assert out.is_file() and f"ONNX model written: {out}" in printed
    assert printed.count("onnxruntime vs PyTorch") == 2


@pytest.mark.slow
def test_mismatch_leaves_no_file(hp, training_ckpt, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # every difference now fails
    out = tmp_path / "model.onnx"
    with pytest.raises(OnnxMismatchError, match="was not written"):
        export_onnx(hp, training_ckpt, out, check_frames=(8,))
    assert os.listdir(tmp_path) == []


@pytest.fixture
def no_onnx(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in ("onnx", "onnxruntime"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_onnx_gives_the_install_line(hp, training_ckpt, tmp_path, no_onnx, capsys):
    with pytest.raises(OnnxUnavailableError, match="pip install onnx onnxruntime"):
        export_onnx(hp, training_ckpt, tmp_path / "model.onnx")
    import svc_export

    with pytest.raises(SystemExit) as exit_info:
        svc_export.main(["-c", TINY, "-p", str(training_ckpt), "--out", str(tmp_path / "s.pth"),
                         "--onnx", str(tmp_path / "model.onnx")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ONNX export needs") and "pip install onnx onnxruntime" in err
    assert not (tmp_path / "model.onnx").exists()
