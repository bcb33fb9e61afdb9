"""End-to-end trainer tests on tests/tiny.yaml (discriminator trimmed further) and a synthetic
dataset in the real file formats, on CPU."""
import glob
import os
import signal
import socket

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.checkpoint import load_checkpoint
from common.config import load_config
from tests.train_synthetic import FAST, TINY, make_synthetic_dataset, one_clip_config, record_mel_losses
from vits import train as train_step
from vits.train import TrainOptions, run_worker, seed_everything, train
from vits.train_utils import EPOCH_BATCHES_KEY, TRAINING_KEYS

pytestmark = pytest.mark.slow  # subprocesses / whole pipeline runs



def make_run(root, items_per_speaker=2, speakers=2, **overrides):
    """Synthetic data + a config under `root` (paths relative to it); returns the config path."""
    hp = OmegaConf.merge(OmegaConf.load(TINY), FAST, overrides)
    make_synthetic_dataset(str(root), hp, items_per_speaker=items_per_speaker, speakers=speakers, seconds=(1.0,))
    path = os.path.join(str(root), "config.yaml")
    OmegaConf.save(hp, path)
    return path


def fresh_models(config):
    from vits.models import SynthesizerTrn
    from vits_decoder.discriminator import Discriminator

    hp = load_config(config)
    seed_everything(int(hp.train.seed))
    return SynthesizerTrn(513, hp.data.segment_size // hp.data.hop_length, hp), Discriminator(hp)


def ckpt(run_dir, name, epoch):
    return load_checkpoint(os.path.join(run_dir, "chkpt", name, f"{name}_{epoch:04d}.pt"))


def test_three_steps_write_public_checkpoint_and_logs(tmp_path, monkeypatch):
    from tests.tiny_speaker import make_checkpoint

    monkeypatch.chdir(tmp_path)
    speaker = str(make_checkpoint(tmp_path / "speaker.pth.tar"))
    config = make_run(tmp_path, log={"eval_interval": 1, "save_interval": 1, "info_interval": 1,
                                     "eval_pitch_method": "crepe", "eval_speaker_checkpoint": speaker})
    trainer = train(TrainOptions(config=config, name="run", device="cpu", max_steps=3))
    assert trainer is None or trainer.step == 3
    saved = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "chkpt" / "run" / "*.pt")))
    # 2 steps per epoch: epoch 1 done, stopped in epoch 2; best.pt from epoch 1's validation
    assert saved == ["best.pt", "run_0001.pt", "run_0002.pt"]
    state = ckpt(tmp_path, "run", 2)  # weights_only load
    assert set(state) == set(TRAINING_KEYS) | {EPOCH_BATCHES_KEY}
    assert (state["step"], state["epoch"], state[EPOCH_BATCHES_KEY]) == (3, 2, 1)  # stopped after batch 1 of 2
    with open(config, encoding="utf-8") as f:
        assert state["hp_str"] == f.read()
    net_g, net_d = fresh_models(config)
    assert set(state["model_g"]) == set(net_g.state_dict())
    assert set(state["model_d"]) == set(net_d.state_dict())
    assert all(torch.isfinite(v).all() for v in state["model_g"].values())
    assert len(state["optim_g"]["state"]) == len(list(net_g.parameters()))
    log = (tmp_path / "logs" / "run" / "train.log").read_text()
    assert "step 3" in log and "validation epoch 1" in log and "Saved checkpoint" in log
    assert "This run needs about" in log  # the memory estimate, said at start

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "logs" / "run"), size_guidance={"images": 0, "audio": 0}).Reload()
    tags = events.Tags()
    for tag in ("train/mel", "train/stft", "train/adv", "train/fm", "train/kl_f", "train/kl_r", "train/spk",
                "train/disc", "train/lr", "train/grad_norm_g", "train/grad_norm_d", "valid/mel",
                "valid/pitch_cents", "valid/voicing", "valid/spk_sim", "valid/f0_corr", "valid/f0_rmse",
                "valid/score", "valid/best_step"):  # the voice beside the losses
        assert tag in tags["scalars"], tag
    assert -1.0 <= events.Scalars("valid/spk_sim")[0].value <= 1.0
    assert "valid/mel_0" in tags["images"] and "valid/generated_0" in tags["audio"]


def _flat(state):
    return {k: v for k, v in state.items() if torch.is_tensor(v)}


def _assert_optim_equal(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for key in a["state"]:
        for name, value in a["state"][key].items():
            assert torch.equal(value, b["state"][key][name]), (key, name)


def test_resume_continues_exactly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)  # 2 items, batch 2: one step per epoch
    train(TrainOptions(config=config, name="straight", device="cpu", max_steps=2))
    train(TrainOptions(config=config, name="split", device="cpu", max_steps=1))
    first = ckpt(tmp_path, "split", 1)
    assert (first["step"], first["epoch"]) == (1, 1)
    changed = OmegaConf.load(config)
    changed.log.info_interval = 2  # a different config text: resuming warns, training is unaffected
    OmegaConf.save(changed, config)
    train(TrainOptions(config=config, name="split", device="cpu", max_steps=2,
                       resume=str(tmp_path / "chkpt" / "split" / "split_0001.pt")))
    a, b = ckpt(tmp_path, "straight", 2), ckpt(tmp_path, "split", 2)
    assert (a["step"], a["epoch"]) == (b["step"], b["epoch"]) == (2, 2)
    for key in ("model_g", "model_d"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    _assert_optim_equal(a["optim_g"], b["optim_g"])
    _assert_optim_equal(a["optim_d"], b["optim_d"])
    assert a["optim_g"]["param_groups"][0]["lr"] == pytest.approx(5e-5 * 0.999875)
    assert "differs from the one stored" in (tmp_path / "logs" / "split" / "train.log").read_text()


def test_non_finite_step_is_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)
    real_speaker_loss = train_step.speaker_loss
    calls = []

    def nan_first(spk, preds):
        calls.append(1)
        loss = real_speaker_loss(spk, preds)
        return loss * float("nan") if len(calls) == 1 else loss

    monkeypatch.setattr(train_step, "speaker_loss", nan_first)
    train(TrainOptions(config=config, name="nan", device="cpu", max_steps=1))
    state = ckpt(tmp_path, "nan", 1)
    init_g, init_d = fresh_models(config)
    for name, value in init_g.state_dict().items():
        assert torch.equal(value, state["model_g"][name]), name  # generator update skipped
    assert state["optim_g"]["state"] == {}
    assert any(not torch.equal(v, state["model_d"][k]) for k, v in init_d.state_dict().items())  # D was fine
    assert "non-finite" in (tmp_path / "logs" / "nan" / "train.log").read_text()
    train(TrainOptions(config=config, name="nan", device="cpu", max_steps=2,
                       resume=str(tmp_path / "chkpt" / "nan" / "nan_0001.pt")))
    after = ckpt(tmp_path, "nan", 2)
    assert after["step"] == 2 and len(after["optim_g"]["state"]) > 0
    assert all(torch.isfinite(v).all() for v in after["model_g"].values())


def test_sigterm_finishes_the_step_and_saves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path)  # 4 items: two steps per epoch
    real = train_step.generator_losses

    def signal_during_first_step(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # caught by the trainer's handler
        return real(*args, **kwargs)

    monkeypatch.setattr(train_step, "generator_losses", signal_during_first_step)
    before = signal.getsignal(signal.SIGTERM)
    train(TrainOptions(config=config, name="stop", device="cpu"))
    assert signal.getsignal(signal.SIGTERM) == before  # handler removed again
    state = ckpt(tmp_path, "stop", 1)
    assert (state["step"], state["epoch"]) == (1, 1)
    assert "SIGTERM received" in (tmp_path / "logs" / "stop" / "train.log").read_text()


def test_overfit_one_clip_lowers_mel_loss(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = one_clip_config(tmp_path)
    mels = record_mel_losses(monkeypatch)
    train(TrainOptions(config=config, name="fit", device="cpu", max_steps=20))
    assert len(mels) == 20
    assert np.mean(mels[-3:]) < 0.6 * mels[0], mels


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world_size, options, port, out_dir):
    trainer = run_worker(rank, world_size, rank, options, "cpu", "127.0.0.1", port)
    net_g = getattr(trainer.net_g, "module", trainer.net_g)
    net_d = getattr(trainer.net_d, "module", trainer.net_d)
    torch.save({"g": net_g.state_dict(), "d": net_d.state_dict(), "step": trainer.step},
               os.path.join(out_dir, f"rank{rank}.pt"))


def test_ddp_two_gloo_processes_stay_in_sync(tmp_path, monkeypatch):
    import torch.multiprocessing as mp

    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path)  # 4 items, batch 2, 2 ranks: one step per epoch
    options = TrainOptions(config=config, name="ddp", device="cpu", max_steps=2)
    mp.start_processes(_ddp_worker, args=(2, options, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["step"] == r1["step"] == 2
    init_g, _ = fresh_models(config)
    for key in ("g", "d"):
        for name, value in r0[key].items():
            assert torch.equal(value, r1[key][name]), (key, name)
    assert any(not torch.equal(v, r0["g"][k]) for k, v in init_g.state_dict().items())  # it did train
    saved = ckpt(tmp_path, "ddp", 2)  # rank 0 alone writes the checkpoint
    assert saved["step"] == 2
    assert all(torch.equal(v, saved["model_g"][k]) for k, v in r0["g"].items())


def test_starts_from_pretrain_file(tmp_path, monkeypatch):
    from common.checkpoint import CheckpointError, save_checkpoint
    from vits.train import Trainer
    from vits.train_utils import DistInfo

    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)
    net_g, net_d = fresh_models(config)
    with torch.no_grad():
        for p in list(net_g.parameters()) + list(net_d.parameters()):
            p.add_(0.5)
    save_checkpoint({"model_g": net_g.state_dict(), "model_d": net_d.state_dict()}, tmp_path / "pre.pth")
    save_checkpoint({"weights": net_g.state_dict()}, tmp_path / "bad.pth")
    hp = load_config(config)
    hp.train.pretrain = str(tmp_path / "pre.pth")
    trainer = Trainer(hp, "", TrainOptions(config=config, name="pre", device="cpu"), DistInfo())
    trainer.build()
    trainer.log.close()
    for mine, loaded in ((net_g, trainer.net_g), (net_d, trainer.net_d)):
        for name, value in mine.state_dict().items():
            assert torch.equal(value, loaded.state_dict()[name]), name
    assert (trainer.step, trainer.start_epoch) == (0, 1)
    hp.train.pretrain = str(tmp_path / "bad.pth")
    bad = Trainer(hp, "", TrainOptions(config=config, name="bad", device="cpu"), DistInfo())
    with pytest.raises(CheckpointError, match=r"bad\.pth.*model_g"):
        bad.build()
    bad.log.close()
