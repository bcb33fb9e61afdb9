"""State-dict compatibility with the public so-vits-svc-5.0 checkpoints (configs/base.yaml sizes)."""
import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint, load_state_dict_checked, save_checkpoint
from common.config import config_from
from vits.models import SynthesizerInfer, SynthesizerTrn
from vits_decoder.discriminator import Discriminator
from vits_decoder.fast import accelerate
from tests.compat_manifest import load_manifest


@pytest.fixture(scope="module")
def layout():
    return load_manifest("sovits5_checkpoint")


@pytest.fixture(scope="module")
def models(base_hp):
    return {
        "model_g_training": SynthesizerTrn.from_hparams(base_hp),
        "model_d": Discriminator(base_hp),
        "model_g_exported": SynthesizerInfer.from_hparams(base_hp),
    }


def public_state(entries, generator):
    """Random tensors with the public names, shapes and order."""
    return {name: torch.randn(shape, generator=generator) for name, shape in entries}


def test_base_config_matches_public_hyper_parameters(layout, base_hp):
    public = config_from(layout["hyper_parameters"], "public base.yaml")
    for section in ("data", "vits", "gen", "mpd", "mrd"):
        names = layout["hyper_parameters"][section]
        assert {k: base_hp[section][k] for k in names} == {k: public[section][k] for k in names}, section


@pytest.mark.parametrize("name", ["model_g_training", "model_d", "model_g_exported"])
def test_state_dict_names_shapes_and_order(layout, models, name):
    ours = [(k, list(v.shape)) for k, v in models[name].state_dict().items()]
    public = [(k, list(s)) for k, s in layout[name]]
    assert [k for k, _ in ours] == [k for k, _ in public]
    assert ours == public


def test_public_files_load_and_save_back_identically(layout, models, tmp_path):
    gen = torch.Generator().manual_seed(0)
    training = public_state(layout["model_g_training"], gen)
    disc = public_state(layout["model_d"], gen)
    path = tmp_path / "public_pretrain.pth"
    torch.save({"model_g": training, "model_d": disc}, path)
    loaded = load_checkpoint(path, what="pretrain")

    for key, model in (("model_g", models["model_g_training"]), ("model_d", models["model_d"])):
        load_state_dict_checked(model, loaded[key], path, what=key)
        back_path = tmp_path / f"{key}_back.pth"
        save_checkpoint({key: model.state_dict()}, back_path)
        back = load_checkpoint(back_path)[key]
        assert list(back) == list(loaded[key])
        for k, v in loaded[key].items():
            assert back[k].shape == v.shape and torch.equal(back[k], v), k


def test_exported_and_training_layouts_load_into_infer_model(layout, models, tmp_path):
    gen = torch.Generator().manual_seed(1)
    training = public_state(layout["model_g_training"], gen)
    exported = {k: training[k] for k, _ in layout["model_g_exported"]}
    path = tmp_path / "sovits5.0.pth"
    torch.save({"model_g": exported}, path)

    infer = models["model_g_exported"]
    infer.load_exported(load_checkpoint(path)["model_g"], path)
    state = infer.state_dict()
    assert list(state) == list(exported)
    assert all(torch.equal(state[k], v) for k, v in exported.items())

    # the training layout loads too (its extra keys are ignored) and folds weight norm once
    accelerate(infer.load_exported(training, "training dict"), "cpu")
    assert infer.folded
    folded = infer.state_dict()
    assert not any(k.endswith(("weight_g", "weight_v")) for k in folded)
    assert torch.equal(folded["enc_p.pre.weight"], training["enc_p.pre.weight"])
    # loading again into the folded model folds the file's weight norm the same way
    infer.load_exported(exported, "exported dict")
    assert all(torch.equal(v, folded[k]) for k, v in infer.state_dict().items())


def test_missing_or_foreign_keys_are_one_clear_error(layout, models):
    gen = torch.Generator().manual_seed(2)
    exported = public_state(layout["model_g_exported"], gen)
    del exported["dec.conv_post.weight"]
    exported["something.else"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"1 missing.*dec\.conv_post\.weight.*1 unexpected.*something\.else"):
        models["model_g_exported"].load_exported(exported, "bad.pth")


def test_public_config_without_width_keys_builds_the_public_discriminator(layout):
    # The public base.yaml has no mpd.channels / mrd.channels: the public widths are the default.
    public_hp = config_from(layout["hyper_parameters"], "public base.yaml")
    names = [(k, list(v.shape)) for k, v in Discriminator(public_hp).state_dict().items()]
    assert names == [(n, list(s)) for n, s in layout["model_d"]]
