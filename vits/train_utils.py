"""Plumbing of the training loop (vits/train.py): checkpoints in the public so-vits-svc-5.0 layout
(<pth_dir>/<name>/<name>_<epoch:04d>.pt), DDP process groups (one process, torchrun or a
single-node spawn), logs on rank 0 (train.log + TensorBoard), and Ctrl-C / SIGTERM handling.
"""
import contextlib
import datetime
import glob
import logging
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from common.atomic import is_temp_file
from common.checkpoint import (CheckpointError, load_checkpoint, load_state_dict_checked, non_finite_tensors,
                               require_finite, require_keys, save_checkpoint, to_legacy_weight_norm, verify_zip)


# ---- checkpoints: <pth_dir>/<name>/<name>_<epoch:04d>.pt and best.pt ----

TRAINING_KEYS = ("model_g", "model_d", "optim_g", "optim_d", "step", "epoch", "hp_str")
# Beside the public keys: how many batches of `epoch` were trained when it was saved (0: the whole
# epoch), so that a run stopped mid-epoch resumes at the next batch. Public loaders ignore it.
EPOCH_BATCHES_KEY = "epoch_batches"
BEST_NAME = "best.pt"


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why, names the files, and what to do."""


PRETRAIN_HINT = ("The public pretrain is sovits5.0.pretrain.pth from the so-vits-svc-5.0 release "
                 "(a dict with model_g and model_d); set train.pretrain to \"\" to train from scratch.")


def unwrap(model):
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def save_training_checkpoint(path, model_g, model_d, optim_g, optim_d, step, epoch, hp_str, epoch_batches=0,
                             **extra):
    """Write a training checkpoint atomically; NaN/inf weights or optimizer state, or a failed write
    (full disk, no permission), raise TrainingError naming the folder and its newest good checkpoint."""
    state = {"model_g": to_legacy_weight_norm(unwrap(model_g).state_dict()),
             "model_d": to_legacy_weight_norm(unwrap(model_d).state_dict()),
             "optim_g": optim_g.state_dict(), "optim_d": optim_d.state_dict(),
             "step": int(step), "epoch": int(epoch), "hp_str": str(hp_str),
             EPOCH_BATCHES_KEY: int(epoch_batches), **extra}
    folder = os.path.dirname(os.path.abspath(path))
    bad = non_finite_tensors({k: state[k] for k in ("model_g", "model_d", "optim_g", "optim_d")})
    if bad:
        raise TrainingError(f"not saving {path}: NaN/inf in {', '.join(bad[:3])}. {newest_good_text(folder)}")
    try:
        save_checkpoint(state, path)
    except (OSError, RuntimeError) as e:  # torch reports a full disk as RuntimeError (inline_container.cc)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TrainingError(f"could not write {path} in {folder} ({reason}): free disk space or make the folder "
                            f"writable, then resume. {newest_good_text(folder, verify=False)}") from None


def newest_good_text(folder, skip=(), verify=True):
    """Names the newest training checkpoint in `folder` (numbered ones and best.pt, by modification
    time) that passes the resume checks (zip CRC, keys, finite tensors), or says there is none."""
    paths = [os.path.join(folder, f) for f in os.listdir(folder)] if os.path.isdir(folder) else []
    paths = [p for p in paths if p.endswith(".pt") and os.path.isfile(p) and not is_temp_file(p)
             and os.path.abspath(p) not in {os.path.abspath(s) for s in skip}]
    for good in sorted(paths, key=os.path.getmtime, reverse=True):
        with contextlib.suppress(CheckpointError):  # a damaged one: try the next
            if verify:
                read_training_checkpoint(good)
            return f"The newest good checkpoint is {good} (resume with -p {good})."
    return f"There is no good checkpoint in {folder} yet."


def read_training_checkpoint(path):
    """Load and check a training checkpoint: zip CRC, the training keys, finite tensors."""
    what = "training checkpoint"
    verify_zip(path, what=what)
    ckpt = load_checkpoint(path, what=what,
                           hint="Pass a chkpt/<name>/<name>_XXXX.pt file written by svc_trainer.py.")
    require_keys(ckpt, TRAINING_KEYS, path, what=what,
                 hint="Exported or pretrain files (model_g only / model_g + model_d) cannot be resumed: "
                      "use them as train.pretrain instead.")
    require_finite({k: ckpt[k] for k in ("model_g", "model_d", "optim_g", "optim_d")}, path, what=what)
    return ckpt


def load_resume_checkpoint(path, model_g, model_d, optim_g, optim_d):
    """Restore models and optimizers from a training checkpoint; return it (for step/epoch/hp_str).
    A damaged file (CRC, NaN/inf) raises CheckpointError naming it and the newest good one beside it."""
    try:
        ckpt = read_training_checkpoint(path)
    except CheckpointError as e:
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isfile(path) and os.path.isdir(folder):
            raise CheckpointError(f"{e} {newest_good_text(folder, skip=(path,))}") from None
        raise
    load_state_dict_checked(unwrap(model_g), ckpt["model_g"], path, what="generator (model_g)")
    load_state_dict_checked(unwrap(model_d), ckpt["model_d"], path, what="discriminator (model_d)")
    for optim, key in ((optim_g, "optim_g"), (optim_d, "optim_d")):
        try:
            optim.load_state_dict(ckpt[key])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"training checkpoint {path}: {key} does not fit this model's optimizer ({e}). "
                                  f"Use the config the run was started with.") from None
    return ckpt


def load_pretrain(path, model_g, model_d):
    """Initialise weights from a pretrain file {model_g, model_d} (model_d optional)."""
    ckpt = load_checkpoint(path, what="pretrain model", hint=PRETRAIN_HINT)
    require_keys(ckpt, ("model_g",), path, what="pretrain model", hint=PRETRAIN_HINT)
    load_state_dict_checked(unwrap(model_g), ckpt["model_g"], path, what="pretrain generator (model_g)")
    loaded_d = isinstance(ckpt.get("model_d"), dict)
    if loaded_d:
        load_state_dict_checked(unwrap(model_d), ckpt["model_d"], path, what="pretrain discriminator (model_d)")
    return loaded_d


def check_writable(folder):
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "wb") as f:
            f.write(b"ok")
        os.remove(probe)
    except OSError as e:
        raise TrainingError(f"the checkpoint folder {folder} is not writable ({e.strerror or e}): fix its "
                            f"permissions or set log.pth_dir to another folder.") from None


def list_checkpoints(folder, name):
    """This run's epoch checkpoints, oldest epoch first."""
    pattern = re.compile(re.escape(name) + r"_(\d{4,})\.pt$")
    paths = glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(name)}_*.pt"))
    found = [(int(m.group(1)), path) for path in paths if (m := pattern.match(os.path.basename(path)))]
    return [path for _, path in sorted(found)]


def prune_checkpoints(folder, name, keep):
    """Delete all but the newest `keep` epoch checkpoints (keep <= 0: keep all). Returns the deleted."""
    if keep is None or int(keep) <= 0:
        return []
    old = list_checkpoints(folder, name)[: -int(keep)]
    for path in old:
        os.remove(path)
    return old


# ---- distributed training ----

@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1


def worker_device(device_name, local_rank, gpu_count=None):
    """cuda:<local_rank mod GPUs> for a CUDA device without an index, else the chosen device."""
    device = torch.device(device_name)
    if device.type == "cuda" and device.index is None:
        gpu_count = torch.cuda.device_count() if gpu_count is None else gpu_count
        device = torch.device("cuda", local_rank % max(1, gpu_count))
    return device


def process_group_backend(device, cuda_backend, local_world_size, gpu_count):
    """gloo on CPU; on CUDA the configured backend, unless processes share a GPU: NCCL refuses
    two ranks on one device, gloo (slower, CUDA tensors staged through the host) does not."""
    shared = cuda_backend == "nccl" and local_world_size > gpu_count
    return "gloo" if device.type != "cuda" or shared else cuda_backend


def init_process_group(rank, world_size, local_rank, device_name, master_addr, master_port, cuda_backend="nccl",
                       init_method=None):
    """Join the group (when world_size > 1) and return this process's DistInfo. init_method defaults to
    tcp://master_addr:master_port (spawn); torchrun workers pass "env://" (torchrun's own store)."""
    device = worker_device(device_name, local_rank)
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.set_device(device)
    if world_size > 1:
        gpus = torch.cuda.device_count() if device.type == "cuda" else 0
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        backend = process_group_backend(device, cuda_backend, local_world_size, gpus)
        if backend != cuda_backend and device.type == "cuda" and rank == 0:
            print(f"{local_world_size} processes share {gpus} GPU(s): NCCL cannot, so the group uses gloo",
                  flush=True)
        dist.init_process_group(backend=backend, init_method=init_method or f"tcp://{master_addr}:{int(master_port)}",
                                rank=rank, world_size=world_size, timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank=rank, world_size=world_size, device=device)


def any_rank(flag, info):
    """True on every rank when `flag` is True on at least one (a no-op without a group)."""
    if not info.distributed:
        return bool(flag)
    device = info.device if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


# ---- logging ----

class TrainLogger:
    def __init__(self, log_dir, enabled=True):
        self.writer = None
        self.logger = logging.getLogger(f"svc_trainer.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.info = self.logger.info
        self.warning = self.logger.warning
        if not enabled:
            self.logger.addHandler(logging.NullHandler())
            return
        os.makedirs(log_dir, exist_ok=True)
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        for handler in (logging.FileHandler(os.path.join(log_dir, "train.log"), encoding="utf-8"),
                        logging.StreamHandler()):
            handler.setFormatter(fmt)
            self.logger.addHandler(handler)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir)

    def exception(self, message):
        """The current exception's traceback into train.log only (svc_trainer.py prints one line)."""
        for handler in self.logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.handle(self.logger.makeRecord(self.logger.name, logging.ERROR, __file__, 0, message, None,
                                                      sys.exc_info()))

    def scalars(self, values, step, prefix="train/"):
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(prefix + key, float(value), step)

    def mel_image(self, tag, mel_real, mel_fake, step):
        """Two mel spectrograms [mels, frames] drawn one above the other (matplotlib, Agg)."""
        if self.writer is None:
            return
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
        low = float(min(mel_real.min(), mel_fake.min()))
        high = float(max(mel_real.max(), mel_fake.max()))
        for ax, mel, title in ((axes[0], mel_real, "real"), (axes[1], mel_fake, "generated")):
            im = ax.imshow(mel, aspect="auto", origin="lower", interpolation="none", vmin=low, vmax=high)
            ax.set(title=title, ylabel="mel bin")
        axes[1].set_xlabel("frame")
        fig.colorbar(im, ax=list(axes))
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # [H, W, 3] uint8
        plt.close(fig)
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def audio(self, tag, wav, step, sampling_rate):
        if self.writer is not None:
            wav = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
            self.writer.add_audio(tag, wav, step, sample_rate=int(sampling_rate))

    def flush(self):
        if self.writer is not None:
            self.writer.flush()
        for handler in self.logger.handlers:
            handler.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)


# ---- stop on a signal ----

class StopRequest:
    """Inside `with`: the first SIGINT/SIGTERM asks the trainer to stop after this step, the second
    aborts (handlers installed from the main thread only)."""

    def __init__(self):
        self.requested = False
        self.signal_name = None
        self._previous = {}

    def request(self, signum=signal.SIGINT, frame=None):
        if self.requested:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: aborting without saving")
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        with contextlib.suppress(OSError):  # at once, from the handler: os.write is safe there
            os.write(sys.stderr.fileno(), f"\n{self.signal_name}: stopping after this step "
                                          f"(press again to abort)\n".encode())

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self.request)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


@contextlib.contextmanager
def forward_signals_to(processes):
    """While the spawn parent waits: pass SIGTERM on to the workers, and ignore SIGINT (Ctrl-C in a
    terminal reaches the workers directly; each saves a checkpoint and exits)."""
    def forward(signum, frame):
        for proc in processes:
            if proc.is_alive():
                os.kill(proc.pid, signum)

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, forward)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
