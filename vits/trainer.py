"""The SVC training loop (svc_trainer.py): GAN training of SynthesizerTrn against the
MRD/MPD/MSD discriminator, on one CPU/GPU or several processes with DDP.

Epochs count from 1. A checkpoint saved at the end of (or during) epoch E resumes at epoch E+1
with the step count, models and optimizers restored; the learning rate of epoch E is
learning_rate * lr_decay ** (E - 1) (ExponentialLR stepped once per epoch).
"""
import contextlib
import os
import random
import signal
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from common.device import pick_device
from vits import train_dist, train_step
from common.runtime import keep_freed_memory
from vits.data_utils import create_train_loader, create_valid_loader
from vits.train_checkpoint import (checkpoint_path, load_pretrain, load_resume_checkpoint, prune_checkpoints,
                                   save_training_checkpoint, unwrap)
from vits.train_log import TrainLogger
from vits.train_signals import StopRequest
from vits_decoder.losses import MultiResolutionSTFTLoss

AMP_CHOICES = ("none", "bf16", "fp16")


@dataclass
class TrainOptions:
    config: str  # YAML config path
    name: str  # run name: chkpt/<name>/, logs/<name>/
    resume: Optional[str] = None  # training checkpoint to continue from
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: Optional[str] = None  # overrides train.amp
    max_steps: Optional[int] = None  # stop (and save) once this many optimizer steps are done
    num_procs: Optional[int] = None  # single-node DDP processes (default: all visible GPUs on CUDA, 1 on CPU)
    master_addr: str = "127.0.0.1"
    master_port: Optional[int] = None  # default train.port


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def read_config(path):
    """(hp, hp_str): the parsed config and its YAML text (stored in checkpoints as hp_str)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config {path} not found. The default is configs/base.yaml.")
    with open(path, encoding="utf-8") as f:
        hp_str = f.read()
    return OmegaConf.create(hp_str), hp_str


def resolve_amp(hp, amp):
    amp = amp if amp is not None else str(hp.train.get("amp", "none"))
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp '{amp}' is not one of {', '.join(AMP_CHOICES)} (--amp or train.amp).")
    return amp


class Trainer:
    def __init__(self, hp, hp_str, options, info):
        self.hp, self.hp_str, self.options, self.info = hp, hp_str, options, info
        self.device = info.device
        self.amp = resolve_amp(hp, options.amp)
        if self.amp != "none" and self.device.type != "cuda":
            self.amp = "none"  # mixed precision is a CUDA feature; CPU trains in float32
        self.pth_dir = os.path.join(hp.log.pth_dir, options.name)
        self.log = TrainLogger(os.path.join(hp.log.log_dir, options.name), enabled=info.is_main)
        self.step, self.epoch, self.skipped, self.epochs_run = 0, 0, 0, 0
        self.stop = StopRequest()
        self.stop_reason = None

    # ---- setup ----
    def build(self):
        from vits.models import SynthesizerTrn
        from vits_decoder.discriminator import Discriminator

        hp, t = self.hp, self.hp.train
        seed_everything(int(t.seed))  # same initial weights on every rank
        self.net_g = SynthesizerTrn(hp.data.filter_length // 2 + 1, hp.data.segment_size // hp.data.hop_length,
                                    hp).to(self.device)
        if self.device.type == "cpu":  # polyphase activations: same values and gradients, fewer FLOPs;
            self.net_g.dec.use_fast_path(True)  # on CUDA the plain path stays until it is measured there
        self.net_d = Discriminator(hp).to(self.device)
        adamw = dict(lr=float(t.learning_rate), betas=tuple(float(b) for b in t.betas), eps=float(t.eps))
        self.optim_g = torch.optim.AdamW(self.net_g.parameters(), **adamw)
        self.optim_d = torch.optim.AdamW(self.net_d.parameters(), **adamw)
        self.start_epoch = 1
        if self.options.resume:
            self._resume(self.options.resume)
        elif t.pretrain and os.path.isfile(str(t.pretrain)):
            with_d = load_pretrain(str(t.pretrain), self.net_g, self.net_d)
            self.log.info(f"Starting from pretrain {t.pretrain}" + ("" if with_d else " (generator only)"))
        else:
            self.log.info("Starting a new training run" + (f" (no pretrain at {t.pretrain})" if t.pretrain else ""))
        self.sched_g = self._scheduler(self.optim_g)
        self.sched_d = self._scheduler(self.optim_d)
        if self.info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # find_unused_parameters: inference-only submodules of the generator get no gradient
            self.net_g = DDP(self.net_g, device_ids=ids, find_unused_parameters=True)
            self.net_d = DDP(self.net_d, device_ids=ids)
        use_scaler = self.amp == "fp16"
        self.upd_g = train_step.Updater(self.net_g, self.optim_g, t.grad_clip,
                                        torch.amp.GradScaler("cuda") if use_scaler else None)
        self.upd_d = train_step.Updater(self.net_d, self.optim_d, t.grad_clip,
                                        torch.amp.GradScaler("cuda") if use_scaler else None)
        self.stft_loss = MultiResolutionSTFTLoss(self.hp.mrd.resolutions).to(self.device)
        self.train_loader = create_train_loader(hp, self.info.rank, self.info.world_size, seed=int(t.seed),
                                                pin_memory=self.device.type == "cuda")
        self.valid_loader = self._valid_loader()
        ds = self.train_loader.dataset
        self.log.info(f"{len(ds)} training items ({ds.dropped} shorter than train.min_seconds dropped), "
                      f"{len(self.train_loader)} batches per epoch per rank, world size {self.info.world_size}, "
                      f"device {self.device}, amp {self.amp}")

    def _resume(self, path):
        ckpt = load_resume_checkpoint(path, self.net_g, self.net_d, self.optim_g, self.optim_d)
        self.step, self.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        self.start_epoch = self.epoch + 1
        self.log.info(f"Resuming from {path}: epoch {self.epoch}, step {self.step}")
        if ckpt["hp_str"] != self.hp_str:
            self.log.warning(f"The config differs from the one stored in {path}; training goes on with the new one.")

    def _scheduler(self, optim):
        """ExponentialLR positioned at the start of start_epoch (lr = base * decay^(epoch-1))."""
        base = lr = float(self.hp.train.learning_rate)
        for _ in range(self.start_epoch - 1):
            lr *= float(self.hp.train.lr_decay)  # the scheduler's own recursion, bit for bit
        for group in optim.param_groups:
            group["initial_lr"] = base
            group["lr"] = lr
        return torch.optim.lr_scheduler.ExponentialLR(optim, gamma=float(self.hp.train.lr_decay),
                                                      last_epoch=self.start_epoch - 2)

    def _valid_loader(self):
        if not self.info.is_main:
            return None
        path = str(self.hp.data.validation_files)
        if not os.path.isfile(path) or not _has_items(path):
            self.log.warning(f"No validation items in {path}: validation is skipped.")
            return None
        return create_valid_loader(self.hp)

    # ---- training ----
    def fit(self):
        self.build()
        with self.stop:
            for epoch in range(self.start_epoch, int(self.hp.train.epochs) + 1):
                self.epoch = epoch
                self.epochs_run += 1
                completed = self.train_epoch(epoch)
                if completed and self.info.is_main and epoch % int(self.hp.log.eval_interval) == 0:
                    self.validate()
                if self.stop_reason:
                    break
                if epoch % int(self.hp.log.save_interval) == 0:
                    self.save()
                self.sched_g.step()
                self.sched_d.step()
            if self.epochs_run and (self.stop_reason or self.epoch % int(self.hp.log.save_interval) != 0):
                self.save()
        self.log.info(f"Training stopped: {self.stop_reason or 'all epochs done'} (epoch {self.epoch}, "
                      f"step {self.step}, {self.skipped} non-finite steps skipped)")
        self.log.close()
        return self

    def train_epoch(self, epoch):
        """Train one epoch; False when a stop was requested before it ended."""
        seed_everything(int(self.hp.train.seed) + 1000 * epoch + self.info.rank)
        self.train_loader.batch_sampler.set_epoch(epoch)
        self.net_g.train()
        self.net_d.train()
        accum = max(1, int(self.hp.train.accum_step))
        total = len(self.train_loader)
        bar = tqdm(self.train_loader, desc=f"epoch {epoch}", disable=not self.info.is_main, dynamic_ncols=True)
        for index, batch in enumerate(bar):
            last_micro = (index + 1) % accum == 0 or index + 1 == total
            terms, loss_d = self.micro_step(batch.to(self.device, non_blocking=True), accum, last_micro)
            if not last_micro:
                continue
            self.optimizer_step(terms, loss_d)
            bar.set_postfix_str(f"step {self.step} g {terms['total'].item():.3f} mel {terms['mel'].item():.3f} "
                                f"d {loss_d.item():.3f}")
            if self.options.max_steps is not None and self.step >= int(self.options.max_steps):
                self.stop_reason = f"--max-steps {self.options.max_steps} reached"
            if train_dist.any_rank(self.stop.requested, self.info) and not self.stop_reason:
                self.stop_reason = f"{self.stop.signal_name or 'signal'} received"
            if self.stop_reason:
                bar.close()
                return index + 1 == total
        return True

    def micro_step(self, batch, accum, sync):
        """Forward/backward of one micro-batch for both models (gradients summed over `accum`)."""
        amp_ctx = train_step.autocast_context(self.device, self.amp)
        with train_dist.no_sync_unless(self.net_g, sync):
            terms, fake, real = train_step.generator_losses(self.hp, self.net_g, unwrap(self.net_d),
                                                            self.stft_loss, batch, amp_ctx)
            self.upd_g.backward(terms["total"], accum)
        amp_ctx = train_step.autocast_context(self.device, self.amp)
        with train_dist.no_sync_unless(self.net_d, sync):
            loss_d = train_step.discriminator_losses(self.net_d, fake, real, amp_ctx)
            self.upd_d.backward(loss_d, accum)
        return terms, loss_d

    def optimizer_step(self, terms, loss_d):
        norm_g, ok_g = self.upd_g.step()
        norm_d, ok_d = self.upd_d.step()
        self.step += 1
        if not (ok_g and ok_d):
            self.skipped += 1
            which = " and ".join(n for n, ok in (("generator", ok_g), ("discriminator", ok_d)) if not ok)
            self.log.warning(f"step {self.step}: non-finite loss/gradient (g {terms['total'].item():.4g}, "
                             f"d {loss_d.item():.4g}); {which} update skipped")
        if self.info.is_main and self.step % int(self.hp.log.info_interval) == 0:
            values = {k: v.item() for k, v in terms.items()}
            values.update(disc=loss_d.item(), grad_norm_g=norm_g, grad_norm_d=norm_d,
                          lr=self.optim_g.param_groups[0]["lr"])
            self.log.scalars(values, self.step)
            self.log.info(f"epoch {self.epoch} step {self.step} " + " ".join(f"{k} {v:.4g}" for k, v in values.items()))

    # ---- validation and checkpoints ----
    @torch.no_grad()
    def validate(self):
        if self.valid_loader is None:
            return
        net_g = unwrap(self.net_g)
        net_g.eval()
        hp, total, count = self.hp, 0.0, 0
        for index, batch in enumerate(tqdm(self.valid_loader, desc="validation", leave=False)):
            batch = batch.to(self.device)
            fake = self.generate(net_g, batch)[..., : batch.audio.size(-1)]
            real = batch.audio[..., : fake.size(-1)]
            mel_fake, mel_real = train_step.mel_of(hp, fake), train_step.mel_of(hp, real)
            total += torch.nn.functional.l1_loss(mel_fake, mel_real).item()
            count += 1
            if index < int(hp.log.num_audio):
                self.log.mel_image(f"valid/mel_{index}", mel_real[0].cpu().numpy(), mel_fake[0].cpu().numpy(), self.step)
                self.log.audio(f"valid/generated_{index}", fake[0, 0].float().cpu().numpy(), self.step,
                               hp.data.sampling_rate)
                if self.epoch == self.start_epoch:
                    self.log.audio(f"valid/real_{index}", real[0, 0].cpu().numpy(), self.step, hp.data.sampling_rate)
        if count:
            self.log.scalars({"mel": total / count}, self.step, prefix="valid/")
            self.log.info(f"validation epoch {self.epoch} step {self.step}: mel L1 {total / count:.4f}")
        self.log.flush()
        net_g.train()

    def generate(self, net_g, batch):
        """Full-length audio [B, 1, T * hop] for validation (the model's inference path)."""
        return net_g.infer(batch.ppg, batch.vec, batch.pit, batch.spk, batch.ppg_lengths, seed=int(self.hp.train.seed))

    def save(self):
        if not self.info.is_main:
            train_dist.barrier(self.info)
            return
        path = checkpoint_path(self.hp.log.pth_dir, self.options.name, self.epoch)
        save_training_checkpoint(path, self.net_g, self.net_d, self.optim_g, self.optim_d, self.step, self.epoch,
                                 self.hp_str)
        self.log.info(f"Saved checkpoint {path}")
        for old in prune_checkpoints(self.pth_dir, self.options.name, self.hp.log.get("keep_ckpts", 0)):
            self.log.info(f"Removed old checkpoint {old} (log.keep_ckpts)")
        train_dist.barrier(self.info)


def run_worker(rank, world_size, local_rank, options, device_name, master_addr, master_port, init_method=None):
    hp, hp_str = read_config(options.config)
    info = train_dist.init_process_group(rank, world_size, local_rank, device_name, master_addr, master_port,
                                         cuda_backend=str(hp.dist_config.get("dist_backend", "nccl")),
                                         init_method=init_method)
    try:
        return Trainer(hp, hp_str, options, info).fit()
    finally:
        train_dist.cleanup()


def _spawned(rank, world_size, options, device_name, master_addr, master_port):
    run_worker(rank, world_size, rank, options, device_name, master_addr, master_port)


def train(options):
    """Entry point of svc_trainer.py: one process, torchrun workers, or a single-node spawn."""
    keep_freed_memory()
    hp, _ = read_config(options.config)
    resolve_amp(hp, options.amp)  # fail early on a bad --amp
    if train_dist.launched_by_torchrun():
        rank, world, local, addr, port = train_dist.torchrun_info()
        return run_worker(rank, world, local, options, str(pick_device(options.device)), addr, port,
                          init_method="env://")
    device = pick_device(options.device)
    procs = options.num_procs
    if procs is None:
        procs = torch.cuda.device_count() if device.type == "cuda" and device.index is None else 1
    procs = max(1, int(procs))
    if procs == 1:
        return run_worker(0, 1, 0, options, str(device), options.master_addr, 0)
    import torch.multiprocessing as mp

    port = int(options.master_port or hp.train.port)
    args = (procs, options, "cuda" if device.type == "cuda" else "cpu", options.master_addr, port)
    context = mp.start_processes(_spawned, args=args, nprocs=procs, join=False, start_method="spawn")
    with forward_signals_to(context.processes):
        while not context.join():
            pass
    return None


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


def _has_items(list_path):
    """A one-clip dataset gets an empty valid.txt from preprocess_train.py: no validation then."""
    with open(list_path, encoding="utf-8") as f:
        return any(line.strip() for line in f)
