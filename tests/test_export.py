"""svc_export.py: training checkpoint -> exported inference model in the public layout."""
import os

import pytest
import torch

from common.checkpoint import CheckpointError, save_checkpoint
from svc.model_files import export_checkpoint
from vits.models import TRAINING_ONLY_PREFIXES, SynthesizerInfer
from tests.compat_manifest import load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny.yaml")


def save_tiny_training(hp, path, seed=0):
    from vits.models import SynthesizerTrn

    torch.manual_seed(seed)
    net_g = SynthesizerTrn.from_hparams(hp)
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": {"x.weight": torch.ones(2)}, "optim_g": {},
                     "optim_d": {}, "step": 3, "epoch": 1, "hp_str": ""}, path)
    return net_g.state_dict()


def test_export_keeps_exactly_the_inference_keys_in_order(hp, tmp_path):
    training = save_tiny_training(hp, tmp_path / "tiny_1.pt")
    out = tmp_path / "sovits5.0.pth"
    assert export_checkpoint(hp, tmp_path / "tiny_1.pt", out, pretrain_out=tmp_path / "pre.pth") == []
    exported = torch.load(out, weights_only=True)
    assert list(exported) == ["model_g"]
    keys = list(exported["model_g"])
    assert keys == list(SynthesizerInfer.from_hparams(hp).state_dict())
    # the compat rule: the training keys minus the training-only parts, in training order
    assert keys == [k for k in training if not k.startswith(TRAINING_ONLY_PREFIXES)]
    assert any(k.endswith(".weight_g") for k in keys) and any(k.endswith(".weight_v") for k in keys)
    assert not any("parametrizations" in k for k in keys)
    for k in keys:
        assert torch.equal(exported["model_g"][k], training[k])
    pre = torch.load(tmp_path / "pre.pth", weights_only=True)
    assert set(pre) == {"model_g", "model_d"} and list(pre["model_g"]) == list(training)
    # the exported file loads into the inference model
    SynthesizerInfer.from_hparams(hp).load_exported(exported["model_g"], str(out))


def test_compat_exported_layout_is_training_minus_training_only_parts():
    compat = load_manifest("sovits5_checkpoint")
    training = [k for k, _ in compat["model_g_training"]]
    assert [k for k, _ in compat["model_g_exported"]] == [k for k in training if not k.startswith(TRAINING_ONLY_PREFIXES)]


def test_export_errors(hp, base_hp, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        export_checkpoint(hp, tmp_path / "missing.pt", tmp_path / "o.pth")
    save_checkpoint({"state_dict": {"a": torch.zeros(1)}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="model_g"):
        export_checkpoint(hp, tmp_path / "foreign.pt", tmp_path / "o.pth")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        export_checkpoint(hp, tmp_path / "text.pt", tmp_path / "o.pth")
    save_tiny_training(hp, tmp_path / "tiny_1.pt")
    with pytest.raises(CheckpointError, match="--config"):
        export_checkpoint(base_hp, tmp_path / "tiny_1.pt", tmp_path / "o.pth")
    assert not (tmp_path / "o.pth").exists()


def test_export_cli(hp, tmp_path, capsys):
    import svc_export

    save_tiny_training(hp, tmp_path / "tiny_2.pt")
    argv = ["--config", TINY, "--checkpoint_path", str(tmp_path / "tiny_2.pt"), "--out", str(tmp_path / "x.pth")]
    svc_export.main(argv)
    assert list(torch.load(tmp_path / "x.pth", weights_only=True)) == ["model_g"]
    argv[3] = str(tmp_path / "none.pt")
    with pytest.raises(SystemExit) as stop:
        svc_export.main(argv)
    assert stop.value.code == 1 and "none.pt" in capsys.readouterr().err
