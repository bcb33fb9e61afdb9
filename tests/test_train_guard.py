"""Never a silent ruin: bad items, non-finite steps, damaged or unwritable checkpoints, an existing
run, Ctrl-C mid-epoch (tiny config, synthetic data, CPU)."""
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.train_synthetic import FAST, TINY, make_synthetic_dataset
from vits import train as train_step
from vits.train import TrainOptions, train
from vits.train_utils import EPOCH_BATCHES_KEY, TrainingError, save_training_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def make_run(root, items_per_speaker=2, **overrides):
    hp = OmegaConf.merge(OmegaConf.load(TINY), FAST, overrides)
    make_synthetic_dataset(str(root), hp, items_per_speaker=items_per_speaker, speakers=2, seconds=(1.0,))
    path = os.path.join(str(root), "config.yaml")
    OmegaConf.save(hp, path)
    return path


def list_lines(root):
    return (root / "files" / "train.txt").read_text().splitlines()


def ckpt_files(root, name):
    folder = root / "chkpt" / name
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def run_cli(root, *args, timeout=120):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "svc_trainer.py"), *args], cwd=root,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - started


def test_nan_item_with_loader_workers_ends_at_once_naming_it(tmp_path):
    """A NaN PPG in the list, two loader workers: the file named in one line, non-zero exit within
    a minute (it used to print a worker traceback, then hang at exit), no checkpoint."""
    config = make_run(tmp_path, train={"num_workers": 2})
    ppg = list_lines(tmp_path)[1].split("|")[4]
    values = np.load(ppg)
    values[3, 2] = np.nan
    np.save(ppg, values)
    proc, seconds = run_cli(tmp_path, "-c", config, "-n", "nan", "--device", "cpu", "--max-steps", "4", timeout=90)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert seconds < 60
    assert "Traceback" not in proc.stderr and "DataLoader worker" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and os.path.basename(ppg) in error_lines[0] and "NaN" in error_lines[0]
    assert not [f for f in ckpt_files(tmp_path, "nan") if f.endswith(".pt")]


def test_magnitude_no_extractor_produces_is_flagged(tmp_path):
    """A PPG of 1e30 (finite, so the NaN check passes) is flagged by preprocess_zzz's check and
    refused by the training dataset, naming the file."""
    from prepare.check import check_lists

    make_run(tmp_path)
    hp = OmegaConf.load(tmp_path / "config.yaml")
    ppg = list_lines(tmp_path)[0].split("|")[4]
    values = np.load(ppg)
    values[1, 0] = 1e30
    np.save(ppg, values)
    result = check_lists([str(tmp_path / "files" / "train.txt")], hp, with_dataset=False)
    assert not result.ok
    assert any(os.path.basename(ppg) in text and "magnitude" in text for _, text in result.problems), result.problems


def test_nonfinite_steps_in_a_row_stop_naming_files_and_last_good(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)  # one step per epoch
    train(TrainOptions(config=config, name="bad", device="cpu", max_steps=1))  # a good checkpoint first
    good = tmp_path / "chkpt" / "bad" / "bad_0001.pt"
    before = good.stat().st_mtime_ns
    real = train_step.speaker_loss
    monkeypatch.setattr(train_step, "speaker_loss", lambda spk, preds: real(spk, preds) * float("nan"))
    with pytest.raises(TrainingError) as info, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(TrainOptions(config=config, name="bad", device="cpu", max_steps=10, resume=str(good)))
    assert not [w for w in caught if "lr_scheduler" in str(w.message)]  # the skips are reported, not torch's order warning
    message = str(info.value)
    assert "3 training steps in a row" in message and "item0.wav" in message and "-p chkpt/bad/bad_0001.pt" in message
    assert ckpt_files(tmp_path, "bad") == ["bad_0001.pt"] and good.stat().st_mtime_ns == before  # nothing written
    log = (tmp_path / "logs" / "bad" / "train.log").read_text()
    assert "update skipped. Batch:" in log and "item0.wav" in log


def test_no_checkpoint_with_nonfinite_weights(tmp_path):
    net = torch.nn.Linear(2, 2)
    optim = torch.optim.AdamW(net.parameters())
    previous = tmp_path / "run" / "run_0001.pt"
    save_training_checkpoint(str(previous), net, net, optim, optim, 1, 1, "")
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    with pytest.raises(TrainingError, match=r"NaN/inf in model_g/weight.*run_0001\.pt"):
        save_training_checkpoint(str(tmp_path / "run" / "run_0002.pt"), net, net, optim, optim, 2, 2, "")
    assert sorted(os.listdir(tmp_path / "run")) == ["run_0001.pt"]


def test_failed_save_names_folder_and_intact_previous(tmp_path, monkeypatch):
    from vits import train_utils

    net = torch.nn.Linear(2, 2)
    optim = torch.optim.AdamW(net.parameters())
    folder = tmp_path / "run"
    save_training_checkpoint(str(folder / "run_0001.pt"), net, net, optim, optim, 1, 1, "")

    def full_disk(obj, path):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 512 vs 448")

    monkeypatch.setattr(train_utils, "save_checkpoint", full_disk)
    with pytest.raises(TrainingError) as info:
        save_training_checkpoint(str(folder / "run_0002.pt"), net, net, optim, optim, 2, 2, "")
    assert str(folder) in str(info.value) and "run_0001.pt" in str(info.value) and "free disk space" in str(info.value)


def test_unwritable_output_folder_is_found_at_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)
    (tmp_path / "blocked").write_text("a file where the checkpoint folder should be")
    hp = OmegaConf.load(config)
    hp.log.pth_dir = str(tmp_path / "blocked")
    OmegaConf.save(hp, config)
    with pytest.raises(TrainingError, match="not writable"):
        train(TrainOptions(config=config, name="w", device="cpu", max_steps=1))


def test_damaged_checkpoint_named_with_newest_good(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1, log={"save_interval": 1})
    train(TrainOptions(config=config, name="dmg", device="cpu", max_steps=2))
    folder = tmp_path / "chkpt" / "dmg"
    first, second = folder / "dmg_0001.pt", folder / "dmg_0002.pt"
    os.utime(first, (time.time() - 60, time.time() - 60))
    data = bytearray(second.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 4096] = os.urandom(4096)  # overwritten in the middle: the zip CRC catches it
    second.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        train(TrainOptions(config=config, name="dmg", device="cpu", max_steps=3, resume=str(second)))
    assert "CRC" in str(info.value) and str(second) in str(info.value) and f"-p {first}" in str(info.value)

    state = load_checkpoint(first)
    state["model_g"]["dec.conv_post.weight"][0, 0, 0] = float("nan")
    nan_file = folder / "nan.pt"
    save_checkpoint(state, nan_file)
    with pytest.raises(CheckpointError, match=r"nan\.pt holds NaN or infinite values in model_g/dec\.conv_post\.weight:.*-p .*dmg_0001\.pt"):
        train(TrainOptions(config=config, name="dmg", device="cpu", max_steps=3, resume=str(nan_file)))


def test_conversion_refuses_a_model_with_a_nan_weight(tmp_path):
    """Issue 25: one NaN in one tensor of the model file used to convert to silence."""
    from svc.model_files import load_svc_model
    from vits.models import SynthesizerTrn

    hp = OmegaConf.merge(OmegaConf.load(TINY), FAST)
    state = SynthesizerTrn.from_hparams(hp).state_dict()
    state["flow.flows.0.enc.in_layers.0.bias"][1] = float("inf")
    save_checkpoint({"model_g": state}, tmp_path / "model.pth")
    with pytest.raises(CheckpointError, match=r"model\.pth.*NaN or infinite values in flow\.flows\.0\.enc\.in_layers\.0\.bias"):
        load_svc_model(hp, tmp_path / "model.pth")


def test_new_run_refuses_to_overwrite_existing_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path, items_per_speaker=1)
    train(TrainOptions(config=config, name="old", device="cpu", max_steps=1))
    before = (tmp_path / "chkpt" / "old" / "old_0001.pt").read_bytes()
    with pytest.raises(TrainingError, match=r"already holds 1 checkpoint.*-p .*old_0001\.pt.*--overwrite"):
        train(TrainOptions(config=config, name="old", device="cpu", max_steps=1))
    assert (tmp_path / "chkpt" / "old" / "old_0001.pt").read_bytes() == before
    train(TrainOptions(config=config, name="old", device="cpu", max_steps=1, overwrite=True))


def test_ctrl_c_mid_epoch_says_so_saves_and_resumes_at_the_next_batch(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    config = make_run(tmp_path)  # 4 items, batch 2: two steps per epoch
    seen = []
    real = train_step.generator_losses

    def interrupt_first(hp, net_g, net_d, stft, batch, amp_ctx):
        seen.append(batch.names)
        if len(seen) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(hp, net_g, net_d, stft, batch, amp_ctx)

    monkeypatch.setattr(train_step, "generator_losses", interrupt_first)
    train(TrainOptions(config=config, name="int", device="cpu"))
    assert "stopping after this step (press again to abort)" in capfd.readouterr().err
    state = load_checkpoint(tmp_path / "chkpt" / "int" / "int_0001.pt")
    assert (state["step"], state["epoch"], state[EPOCH_BATCHES_KEY]) == (1, 1, 1)

    seen.append("resume")
    train(TrainOptions(config=config, name="int", device="cpu", max_steps=2,
                       resume=str(tmp_path / "chkpt" / "int" / "int_0001.pt")))
    state = load_checkpoint(tmp_path / "chkpt" / "int" / "int_0001.pt")
    assert (state["step"], state["epoch"], state[EPOCH_BATCHES_KEY]) == (2, 1, 0)  # epoch 1 finished
    # the resumed run trained the other batch of epoch 1, not epoch 2's first
    first, resumed = seen[0], seen[seen.index("resume") + 1]
    assert set(first).isdisjoint(resumed) and len(set(first) | set(resumed)) == 4
