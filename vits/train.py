"""The SVC training loop (svc_trainer.py), one step as the public so-vits-svc-5.0 loop computes it (README
"Training"): accum_step N sums the generator's gradients of N micro-batches (each loss / N) and steps the
discriminator on each at learning_rate / N. Epoch E trains at learning_rate * lr_decay ** (E - 1)."""
import collections
import contextlib
import math
import os
import random
import shutil
import time
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from common.checkpoint import CheckpointError, load_checkpoint
from common.config import load_config
from common.device import pick_device
from common.runtime import keep_freed_memory
from vits import train_utils
from vits.data_utils import DatasetError, LoadFailure, create_train_loader, create_valid_loader, parse_list
from vits.losses import kl_loss, speaker_loss
from vits.models import SynthesizerTrn, slice_frames
from vits.spectrogram import mel_spectrogram_torch
from vits.train_utils import (BEST_NAME, EPOCH_BATCHES_KEY, StopRequest, TrainingError, TrainLogger, check_writable,
                              forward_signals_to, list_checkpoints, load_pretrain, load_resume_checkpoint,
                              newest_good_text, prune_checkpoints, save_training_checkpoint, unwrap)
from vits.train_memory import available_bytes, memory_advice
from vits.valid_metrics import DoneSignal, ValidMetrics, validation_score
from vits_decoder.discriminator import Discriminator
from vits_decoder.fast import accelerate
from vits_decoder.losses import (MultiResolutionSTFTLoss, discriminator_loss, feature_matching_loss,
                                 generator_adversarial_loss)

SPEAKER_WEIGHT = 2.0  # weight of the gradient-reversal speaker loss (public value)
REVERSE_KL_WEIGHT = 0.5  # the reverse KL gets c_kl * 0.5
AMP_CHOICES = ("none", "bf16", "fp16")
# First loss scale of fp16 training. Measured on the H100 and with CPU fp16 autocast: the
# generator's first gradients (norm ~3e3) overflow fp16 at scales above 2^8, so the usual 2^16
# skipped the first 8 steps; the scaler still halves on overflow and doubles after 2000 good steps.
FP16_INIT_SCALE = 2.0 ** 8


def autocast_context(device, amp):
    if amp in (None, "none") or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def optimizer(params, t, lr=None):
    """AdamW with the train section's learning rate (or `lr`), betas and eps."""
    lr = float(t.learning_rate) if lr is None else float(lr)
    return torch.optim.AdamW(params, lr=lr, betas=tuple(float(b) for b in t.betas), eps=float(t.eps))


def accum_steps(t):
    return max(1, int(t.accum_step))


def discriminator_lr(t):
    """The public loop steps the discriminator on every micro-batch at learning_rate / accum_step."""
    return float(t.learning_rate) / accum_steps(t)


def grad_scaler(amp):
    return torch.amp.GradScaler("cuda", init_scale=FP16_INIT_SCALE) if amp == "fp16" else None


@contextlib.contextmanager
def frozen(module):
    """Parameters of `module` need no gradient inside the block (the generator pass through D)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def slice_audio(audio, start_frames, hop, segment_size):
    """audio [B, 1, T] -> the decoder's windows [B, 1, segment_size] (ids_slice in frames)."""
    return slice_frames(audio, [int(s) * hop for s in start_frames.tolist()], segment_size)


def split_batch_outputs(outputs, batch):
    """Discriminator outputs of torch.cat([a, b]) -> (outputs of a, outputs of b)."""
    return ([([f[:batch] for f in fmaps], score[:batch]) for fmaps, score in outputs],
            [([f[batch:] for f in fmaps], score[batch:]) for fmaps, score in outputs])


def mel_of(hp, audio):
    """[B, 1, T] -> log-mel [B, mels, T // hop], the mel-loss features."""
    d = hp.data
    return mel_spectrogram_torch(audio.squeeze(1).float(), d.filter_length, d.mel_channels, d.sampling_rate,
                                 d.hop_length, d.win_length, d.mel_fmin, d.mel_fmax)


def generator_losses(hp, net_g, net_d, stft_loss, batch, amp_ctx):
    """-> ({loss term: scalar tensor, "total"}, generated windows [B, 1, seg], real windows [B, 1, seg])."""
    with amp_ctx:
        fake, ids_slice, z_mask, latents, spk_preds = net_g(
            batch.ppg, batch.vec, batch.pit, batch.spec, batch.spk, batch.ppg_lengths, batch.spec_lengths)
    # losses in float32: under fp16 autocast the KL's squares and exponentials overflow
    z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r = (t.float() for t in latents)
    fake, spk_preds = fake.float(), spk_preds.float()
    real = slice_audio(batch.audio, ids_slice, int(hp.data.hop_length), int(hp.data.segment_size))
    t = hp.train
    terms = {"mel": F.l1_loss(mel_of(hp, fake), mel_of(hp, real)) * float(t.c_mel)}
    sc, mag = stft_loss(fake.squeeze(1), real.squeeze(1))
    terms["stft"] = (sc + mag) * float(t.c_stft)
    with frozen(net_d), amp_ctx:
        fake_out = net_d(fake)
        with torch.no_grad():  # real features are the feature loss's targets: no graph, no backward
            real_out = net_d(real)
    terms["adv"] = generator_adversarial_loss(fake_out)
    terms["fm"] = feature_matching_loss(real_out, fake_out)
    terms["kl_f"] = kl_loss(z_f, logs_q, m_p, logs_p, logdet_f, z_mask) * float(t.c_kl)
    # reverse direction: the prior sample pulled back through the flow, scored under q
    terms["kl_r"] = kl_loss(z_r, logs_p, m_q, logs_q, logdet_r, z_mask) * float(t.c_kl)
    terms["spk"] = speaker_loss(batch.spk, spk_preds)
    terms["total"] = (terms["adv"] + terms["fm"] + terms["mel"] + terms["stft"] + terms["kl_f"]
                      + REVERSE_KL_WEIGHT * terms["kl_r"] + SPEAKER_WEIGHT * terms["spk"])
    return terms, fake, real


def discriminator_losses(net_d, fake, real, amp_ctx):
    """Least-squares discriminator loss on real and (detached) generated windows."""
    with amp_ctx:
        real_out, fake_out = split_batch_outputs(net_d(torch.cat([real, fake.detach()])), real.size(0))
    return discriminator_loss(real_out, fake_out)


class Updater:
    """A model's optimizer step with accumulation, fp16 grad scaler, clipping and a non-finite guard:
    a step whose gradient norm is NaN/inf is skipped (weights and optimizer state untouched)."""

    def __init__(self, model, optimizer, grad_clip, scaler=None):
        self.model = model
        self.optimizer = optimizer
        self.max_norm = float(grad_clip) if grad_clip and float(grad_clip) > 0 else math.inf
        self.scaler = scaler

    def backward(self, loss, accum_step):
        loss = loss / accum_step
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self):
        """Returns (gradient norm before clipping, whether the step was applied)."""
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = float(torch.nn.utils.clip_grad_norm_(params, self.max_norm)) if params else 0.0
        applied = math.isfinite(norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # the scaler skips the step itself on inf/NaN
            self.scaler.update()
        elif applied:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm, applied


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
    overwrite: bool = False  # start a new run even though chkpt/<name>/ holds checkpoints
    stop_when_done: bool = False  # stop (and save) once the validation score says the voice is done


def pace_text(times, steps_left):
    """Steps per second over `times` (clock readings of the last steps) and the time the rest takes."""
    if len(times) < 2 or times[-1] <= times[0]:
        return "timing..."
    rate = (len(times) - 1) / (times[-1] - times[0])
    days, rest = divmod(int(steps_left / rate), 86400)
    left = (f"{days}d " if days else "") + f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{rate:.2f} steps/s, {left} left to train.epochs"


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_amp(hp, amp):
    amp = amp if amp is not None else hp.train.amp
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
        self.voice_metrics = None
        self.d_results = []  # (gradient norm, applied) of the discriminator's micro-batch updates
        self.step_names, self.bad_names = [], []  # files of this optimizer step's micro-batches / of non-finite ones
        self.bad_run = []  # files of the consecutive non-finite steps so far
        self.resume_skip = 0  # batches of start_epoch done before the resumed checkpoint was saved
        self.epoch_batches = 0  # batches of the current epoch done (0 once it is complete)
        self.done = DoneSignal(hp.train.patience)
        self.train_mel = []  # training mel losses since the last validation
        self.step_times = collections.deque(maxlen=50)  # clock readings of the last optimizer steps

    # ---- setup ----
    def build_models(self):
        """Generator, discriminator, their optimizers and the STFT loss (no data, no checkpoint)."""
        hp, t = self.hp, self.hp.train
        seed_everything(int(t.seed))  # same initial weights on every rank
        self.net_g = SynthesizerTrn.from_hparams(hp).to(self.device)
        if t.fast_path:  # opt-in: same function, other float32 rounding (README "Training on a CPU")
            accelerate(self.net_g, self.device, training=True)
        self.net_d = Discriminator(hp).to(self.device)
        self.optim_g = optimizer(self.net_g.parameters(), t)
        self.optim_d = optimizer(self.net_d.parameters(), t, lr=discriminator_lr(t))
        self.stft_loss = MultiResolutionSTFTLoss(hp.mrd.resolutions).to(self.device)

    def build_updaters(self):
        t = self.hp.train
        self.upd_g = Updater(self.net_g, self.optim_g, t.grad_clip, grad_scaler(self.amp))
        self.upd_d = Updater(self.net_d, self.optim_d, t.grad_clip, grad_scaler(self.amp))

    def build(self):
        hp, t = self.hp, self.hp.train
        if self.info.is_main:
            check_writable(self.pth_dir)
            if not self.options.resume and not self.options.overwrite:
                self._refuse_to_overwrite()
        self.build_models()
        self.start_epoch = 1
        if self.options.resume:
            self._resume(self.options.resume)
        elif t.pretrain and os.path.isfile(str(t.pretrain)):
            with_d = load_pretrain(str(t.pretrain), self.net_g, self.net_d)
            self.log.info(f"Starting from pretrain {t.pretrain}" + ("" if with_d else " (generator only)"))
        else:
            self.log.info("Starting a new training run" + (f" (no pretrain at {t.pretrain})" if t.pretrain else ""))
        self.train_loader = create_train_loader(hp, self.info.rank, self.info.world_size, seed=int(t.seed),
                                                pin_memory=self.device.type == "cuda")
        self.batches_per_epoch = self.train_loader.batch_sampler.batches_per_epoch()
        if self.resume_skip >= self.batches_per_epoch:  # the list shrank since: start the next epoch
            self.start_epoch, self.resume_skip = self.start_epoch + 1, 0
        self.sched_g = self._scheduler(self.optim_g, float(t.learning_rate))
        self.sched_d = self._scheduler(self.optim_d, discriminator_lr(t))
        if self.info.distributed:
            DDP = torch.nn.parallel.DistributedDataParallel
            ids = [self.device.index] if self.device.type == "cuda" else None
            # find_unused_parameters: inference-only submodules of the generator get no gradient
            self.net_g = DDP(self.net_g, device_ids=ids, find_unused_parameters=True)
            self.net_d = DDP(self.net_d, device_ids=ids)
        self.build_updaters()
        self.valid_loader = self._valid_loader()
        ds = self.train_loader.dataset
        self.log.info(f"{len(ds)} training items ({ds.dropped} shorter than train.min_seconds dropped), "
                      f"{self.batches_per_epoch} batches per epoch per rank, world size {self.info.world_size}, "
                      f"device {self.device}, amp {self.amp}")
        if self.info.is_main:
            self._check_resources()
            self._restore_best()

    def _check_resources(self):
        """Warn when the disk holds less than two checkpoints; on CPU say what memory the run needs."""
        params = [p for net in (self.net_g, self.net_d) for p in net.parameters()]
        size = 3 * sum(p.numel() * p.element_size() for p in params)  # weights + AdamW's two moments
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(self.pth_dir).free
            if free < 2 * size:
                self.log.warning(f"only {free / 1e9:.2f} GB free in {self.pth_dir}; one checkpoint takes "
                                 f"{size / 1e9:.2f} GB: free some space (or set log.keep_ckpts) before the "
                                 f"first save.")
        if self.device.type != "cpu":
            return
        need, warning = memory_advice(sum(p.numel() for p in params), self.hp.train, available_bytes())
        self.log.info(f"This run needs about {need / 1e9:.1f} GB of memory (estimate for batch "
                      f"{self.hp.train.batch_size}, {self.hp.train.num_workers} loader workers)")
        if warning:
            self.log.warning(warning)

    def _restore_best(self):
        """A resumed run keeps the best score so far (best.pt is only replaced by a better one)."""
        best = os.path.join(self.pth_dir, BEST_NAME)
        if not self.options.resume or not os.path.isfile(best):
            return
        try:
            state = load_checkpoint(best, what="best checkpoint")
            self.done = DoneSignal(self.hp.train.patience, best=float(state["score"]), best_step=int(state["step"]))
            self.log.info(f"Best validation score so far {self.done.best:.4f} at step {self.done.best_step} ({best})")
        except (CheckpointError, KeyError, TypeError, ValueError):
            self.log.warning(f"{best} is unreadable: it is replaced at the next validation.")

    def _refuse_to_overwrite(self):
        best = os.path.join(self.pth_dir, BEST_NAME)
        found = list_checkpoints(self.pth_dir, self.options.name) + [p for p in (best,) if os.path.isfile(p)]
        if found:
            newest = max(found, key=os.path.getmtime)
            raise TrainingError(f"{self.pth_dir} already holds {len(found)} checkpoint(s) of a run named "
                                f"'{self.options.name}' (newest {newest}): a new run would overwrite them. "
                                f"Resume it with -p {newest}, pick another -n name, or pass --overwrite to "
                                f"start over.")

    def _resume(self, path):
        ckpt = load_resume_checkpoint(path, self.net_g, self.net_d, self.optim_g, self.optim_d)
        self.step, self.epoch = int(ckpt["step"]), int(ckpt["epoch"])
        done = int(ckpt.get(EPOCH_BATCHES_KEY, 0) or 0)  # saved mid-epoch: continue at its next batch
        self.start_epoch, self.resume_skip = (self.epoch, done) if done > 0 else (self.epoch + 1, 0)
        where = f"epoch {self.epoch} batch {done + 1}" if done else f"epoch {self.epoch + 1}"
        self.log.info(f"Resuming from {path} (step {self.step}) at {where}")
        if ckpt["hp_str"] != self.hp_str:
            self.log.warning(f"The config differs from the one stored in {path}; training goes on with the new one.")

    def _scheduler(self, optim, base):
        """ExponentialLR positioned at the start of start_epoch (lr = base * decay^(epoch-1))."""
        lr = base
        for _ in range(self.start_epoch - 1):
            lr *= float(self.hp.train.lr_decay)  # the scheduler's own recursion, bit for bit
        for group in optim.param_groups:
            group.update(initial_lr=base, lr=lr)
        return torch.optim.lr_scheduler.ExponentialLR(optim, gamma=float(self.hp.train.lr_decay),
                                                      last_epoch=self.start_epoch - 2)

    def _valid_loader(self):
        if not self.info.is_main:
            return None
        path = str(self.hp.data.validation_files)
        # a one-clip dataset gets an empty valid.txt from preprocess_train.py: no validation then
        if not os.path.isfile(path) or not parse_list(path):
            self.log.warning(f"No validation items in {path}: validation is skipped.")
            return None
        return create_valid_loader(self.hp)

    # ---- training ----
    def fit(self):
        try:
            self.build()
            with self.stop:
                self._epochs()
        except BaseException as e:
            if not isinstance(e, (TrainingError, KeyboardInterrupt, CheckpointError, DatasetError)):
                self.log.exception(f"training failed at epoch {self.epoch}, step {self.step}")
            raise
        finally:
            self.log.close()
        return self

    def _epochs(self):
        for epoch in range(self.start_epoch, int(self.hp.train.epochs) + 1):
            self.epoch = epoch
            self.epochs_run += 1
            completed = self.train_epoch(epoch)
            if completed and epoch % int(self.hp.log.eval_interval) == 0:
                done = self.validate() if self.info.is_main else False
                if train_utils.any_rank(done, self.info) and self.options.stop_when_done and not self.stop_reason:
                    self.stop_reason = "the voice is done (--stop-when-done)"
            if self.stop_reason:
                break
            if epoch % int(self.hp.log.save_interval) == 0:
                self.save()
            with warnings.catch_warnings():  # an epoch of only skipped (non-finite) steps still steps the
                # schedules, as in the public loop: torch's "scheduler before optimizer" warning would confuse
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
                self.sched_g.step()
                self.sched_d.step()
        if self.epochs_run and (self.stop_reason or self.epoch % int(self.hp.log.save_interval) != 0):
            self.save()
        self.log.info(f"Training stopped: {self.stop_reason or 'all epochs done'} (epoch {self.epoch}, "
                      f"step {self.step}, {self.skipped} non-finite steps skipped)")

    def train_epoch(self, epoch):
        """Train one epoch (from batch resume_skip when resuming); False when stopped before its end."""
        skip, self.resume_skip = (self.resume_skip, 0) if epoch == self.start_epoch else (0, 0)
        seed_everything(int(self.hp.train.seed) + 1000 * epoch + self.info.rank + 7919 * skip)
        self.train_loader.batch_sampler.set_epoch(epoch, skip)
        self.net_g.train()
        self.net_d.train()
        accum = accum_steps(self.hp.train)
        total = self.batches_per_epoch
        self.epoch_batches = skip
        iterator = iter(self.train_loader)
        bar = tqdm(iterator, desc=f"epoch {epoch}", disable=not self.info.is_main, dynamic_ncols=True,
                   initial=skip, total=total)
        try:
            for index, batch in enumerate(bar, start=skip):
                if isinstance(batch, LoadFailure):  # a loader worker could not read an item
                    raise DatasetError(batch.message)
                last_micro = (index + 1) % accum == 0 or index + 1 == total
                terms, loss_d = self.micro_step(batch.to(self.device, non_blocking=True), accum, last_micro)
                if not last_micro:
                    continue
                self.optimizer_step(terms, loss_d)
                self.epoch_batches = index + 1
                steps_left = (-(-(total - index - 1) // accum)
                              + (int(self.hp.train.epochs) - epoch) * -(-total // accum))
                bar.set_postfix_str(f"step {self.step} g {terms['total'].item():.3f} mel {terms['mel'].item():.3f} "
                                    f"d {loss_d.item():.3f} | {pace_text(self.step_times, steps_left)}")
                if self.options.max_steps is not None and self.step >= int(self.options.max_steps):
                    self.stop_reason = f"--max-steps {self.options.max_steps} reached"
                if train_utils.any_rank(self.stop.requested, self.info) and not self.stop_reason:
                    self.stop_reason = f"{self.stop.signal_name or 'signal'} received"
                if self.stop_reason:
                    break
        finally:
            bar.close()
            shutdown = getattr(iterator, "_shutdown_workers", None)
            if shutdown is not None:  # at once, also on an error: never leave workers to hang the exit
                shutdown()
        completed = self.epoch_batches >= total
        if completed:
            self.epoch_batches = 0
        return completed

    def micro_step(self, batch, accum, sync):
        """One micro-batch: the generator's forward/backward (gradients summed over `accum` micro-batches,
        synchronised on the last), then the discriminator's forward, backward and update."""
        names = list(getattr(batch, "names", ()) or ())
        self.step_names += names
        amp_ctx = autocast_context(self.device, self.amp)
        no_sync = getattr(self.net_g, "no_sync", None)  # DDP: only the last micro-batch syncs gradients
        with no_sync() if no_sync and not sync else contextlib.nullcontext():
            terms, fake, real = generator_losses(self.hp, self.net_g, unwrap(self.net_d), self.stft_loss, batch,
                                                 amp_ctx)
            self.upd_g.backward(terms["total"], accum)
        loss_d = discriminator_losses(self.net_d, fake, real, amp_ctx)
        self.upd_d.backward(loss_d, 1)
        self.d_results.append(self.upd_d.step())
        if not (math.isfinite(terms["total"].item()) and math.isfinite(loss_d.item())):
            self.bad_names += names
        return terms, loss_d

    def optimizer_step(self, terms, loss_d):
        norm_g, ok_g = self.upd_g.step()
        norms_d = [n for n, _ in self.d_results]
        norm_d = max(norms_d) if all(map(math.isfinite, norms_d)) else float("nan")
        ok_d = all(ok for _, ok in self.d_results)
        names = sorted(set(self.bad_names or self.step_names))
        self.d_results, self.step_names, self.bad_names = [], [], []
        self.step += 1
        self.step_times.append(time.monotonic())
        if ok_g and ok_d:
            self.bad_run = []
            self.train_mel.append(terms["mel"].item())
        else:
            self.skipped += 1
            self.bad_run.append(names)
            which = " and ".join(n for n, ok in (("generator", ok_g), ("discriminator", ok_d)) if not ok)
            self.log.warning(f"step {self.step}: non-finite loss/gradient (g {terms['total'].item():.4g}, "
                             f"d {loss_d.item():.4g}); {which} update skipped. Batch: {', '.join(names) or '?'}")
            limit = int(self.hp.train.nonfinite_limit or 0)
            if limit and len(self.bad_run) >= limit:
                files = sorted({n for step_names in self.bad_run for n in step_names})
                raise TrainingError(
                    f"{len(self.bad_run)} training steps in a row had non-finite losses or gradients "
                    f"(train.nonfinite_limit {limit}); training stopped without saving. Their batches held: "
                    f"{', '.join(files[:8]) or '?'}{' ...' if len(files) > 8 else ''}. Check them with "
                    f"prepare/preprocess_zzz.py (or drop them from the list); if they are fine, lower "
                    f"train.learning_rate. {newest_good_text(self.pth_dir)}")
        if self.info.is_main and self.step % int(self.hp.log.info_interval) == 0:
            values = {k: v.item() for k, v in terms.items()}
            values.update(disc=loss_d.item(), grad_norm_g=norm_g, grad_norm_d=norm_d,
                          lr=self.optim_g.param_groups[0]["lr"])
            self.log.scalars(values, self.step)
            self.log.info(f"epoch {self.epoch} step {self.step} " + " ".join(f"{k} {v:.4g}" for k, v in values.items()))

    # ---- validation and checkpoints ----
    @torch.no_grad()
    def validate(self):
        """Convert the validation items as a user would (prior path, own pitch and speaker), score them,
        write best.pt when the score improves. True when it says the voice is done (train.patience)."""
        if self.valid_loader is None:
            return False
        net_g = unwrap(self.net_g)
        net_g.eval()
        hp, mels, best = self.hp, [], os.path.join(self.pth_dir, BEST_NAME)
        if self.voice_metrics is None:  # pitch tracker and speaker encoder, loaded at the first validation
            self.voice_metrics = ValidMetrics(hp, str(self.device), warn=self.log.warning)
        voice = []
        for index, batch in enumerate(tqdm(self.valid_loader, desc="validation", leave=False)):
            batch = batch.to(self.device)
            fake = net_g.infer(batch.ppg, batch.vec, batch.pit, batch.spk, batch.ppg_lengths,
                               seed=int(hp.train.seed))[..., : batch.audio.size(-1)]  # [B, 1, T * hop]
            real = batch.audio[..., : fake.size(-1)]
            mel_fake, mel_real = mel_of(hp, fake), mel_of(hp, real)
            mels.append(F.l1_loss(mel_fake, mel_real).item())
            if self.voice_metrics.enabled:  # batch size 1: does the output sing the asked pitch in its voice?
                voice.append(self.voice_metrics.measure(fake[0, 0].float().cpu().numpy(), hp.data.sampling_rate,
                                                        batch.pit[0].cpu().numpy(), batch.spk[0].cpu().numpy()))
            if index < int(hp.log.num_audio):
                self.log.mel_image(f"valid/mel_{index}", mel_real[0].cpu().numpy(), mel_fake[0].cpu().numpy(), self.step)
                self.log.audio(f"valid/generated_{index}", fake[0, 0].float().cpu().numpy(), self.step,
                               hp.data.sampling_rate)
                if self.epoch == self.start_epoch:
                    self.log.audio(f"valid/real_{index}", real[0, 0].cpu().numpy(), self.step, hp.data.sampling_rate)
        net_g.train()
        if not mels:
            return False
        figures = {"mel": sum(mels) / len(mels), **ValidMetrics.mean(voice)}  # + pitch, f0_*, spk_sim
        score = validation_score(figures, hp.log.score_weights)
        train_mel = sum(self.train_mel) / len(self.train_mel) if self.train_mel else None
        self.train_mel = []
        improved, done = self.done.update(score, self.step, train_mel)
        self.log.scalars({**figures, "score": score, "best_score": self.done.best, "best_step": self.done.best_step},
                         self.step, prefix="valid/")
        self.log.info(f"validation epoch {self.epoch} step {self.step}: score {score:.4f} "
                      f"({'best so far' if improved else f'best {self.done.best:.4f} at step {self.done.best_step}'}), "
                      + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
        if improved:
            save_training_checkpoint(best, self.net_g, self.net_d, self.optim_g, self.optim_d, self.step,
                                     self.epoch, self.hp_str, epoch_batches=self.epoch_batches,
                                     score=float(score))
            self.log.info(f"Saved {best} (validation score {score:.4f}, step {self.step})")
        if done and not self.done.announced:
            self.done.announced = True
            self.log.warning(
                f"The voice looks done: the validation score has not improved for {self.done.since_best} "
                f"evaluations (train.patience) while the training mel loss still falls "
                f"({self.done.train_mel_at_best or float('nan'):.4f} at the best, {train_mel:.4f} now). Training "
                f"further is likely overfitting: use {best} (step {self.done.best_step}, score "
                f"{self.done.best:.4f}), e.g. python svc_export.py --checkpoint_path {best}."
                + ("" if self.options.stop_when_done else " (--stop-when-done stops here by itself.)"))
        self.log.flush()
        return done

    def save(self):
        if self.info.is_main:
            path = os.path.join(self.pth_dir, f"{self.options.name}_{int(self.epoch):04d}.pt")
            save_training_checkpoint(path, self.net_g, self.net_d, self.optim_g, self.optim_d, self.step,
                                     self.epoch, self.hp_str, epoch_batches=self.epoch_batches)
            stopped = self.epoch_batches and f" (epoch {self.epoch} stopped after batch {self.epoch_batches})"
            self.log.info(f"Saved checkpoint {path}{stopped or ''}")
            for old in prune_checkpoints(self.pth_dir, self.options.name, self.hp.log.keep_ckpts):
                self.log.info(f"Removed old checkpoint {old} (log.keep_ckpts)")
        if self.info.distributed:
            torch.distributed.barrier()


def run_worker(rank, world_size, local_rank, options, device_name, master_addr, master_port, init_method=None):
    hp = load_config(options.config)
    with open(options.config, encoding="utf-8") as f:
        hp_str = f.read()  # stored verbatim in checkpoints
    info = train_utils.init_process_group(rank, world_size, local_rank, device_name, master_addr, master_port,
                                         cuda_backend=hp.dist_config.dist_backend,
                                         init_method=init_method)
    try:
        return Trainer(hp, hp_str, options, info).fit()
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _spawned(rank, world_size, options, device_name, master_addr, master_port):
    run_worker(rank, world_size, rank, options, device_name, master_addr, master_port)


def train(options):
    """Entry point of svc_trainer.py: one process, torchrun workers, or a single-node spawn."""
    keep_freed_memory()
    hp = load_config(options.config)
    resolve_amp(hp, options.amp)  # fail early on a bad --amp
    env = os.environ
    if all(k in env for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")):  # started by torchrun
        return run_worker(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"]), options,
                          str(pick_device(options.device)), env.get("MASTER_ADDR", "127.0.0.1"),
                          int(env.get("MASTER_PORT", "29500")), init_method="env://")
    device = pick_device(options.device)
    procs = options.num_procs
    if procs is None:
        procs = torch.cuda.device_count() if device.type == "cuda" and device.index is None else 1
    procs = max(1, int(procs))
    if procs == 1:
        return run_worker(0, 1, 0, options, str(device), options.master_addr, 0)
    port = int(options.master_port or hp.train.port)
    args = (procs, options, "cuda" if device.type == "cuda" else "cpu", options.master_addr, port)
    context = torch.multiprocessing.start_processes(_spawned, args=args, nprocs=procs, join=False,
                                                    start_method="spawn")
    with forward_signals_to(context.processes):
        while not context.join():
            pass
