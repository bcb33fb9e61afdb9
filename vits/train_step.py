"""One training micro-batch: generator and discriminator losses, and the optimizer updates with
gradient accumulation, mixed precision, clipping and the non-finite check."""
import contextlib
import math

import torch
import torch.nn.functional as F

from vits.losses import kl_loss, speaker_loss
from vits.spectrogram import mel_spectrogram_torch
from vits_decoder.losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss

SPEAKER_WEIGHT = 2.0  # weight of the gradient-reversal speaker loss (public value)
REVERSE_KL_WEIGHT = 0.5  # the reverse KL gets c_kl * 0.5
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_context(device, amp):
    """torch.autocast for "bf16"/"fp16" on CUDA; a null context for "none" or on CPU."""
    if amp in (None, "none") or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=AMP_DTYPES[amp])


@contextlib.contextmanager
def frozen(module):
    """Parameters of `module` need no gradient inside the block (the generator pass through D)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def slice_audio(audio, start_frames, hop, segment_size):
    """audio [B, 1, T] -> the decoder's windows [B, 1, segment_size] (ids_slice in frames)."""
    return torch.stack([audio[i, :, int(s) * hop: int(s) * hop + segment_size]
                        for i, s in enumerate(start_frames.tolist())])


def split_batch_outputs(outputs, batch):
    """Discriminator outputs of torch.cat([a, b]) -> (outputs of a, outputs of b)."""
    first = [([f[:batch] for f in fmaps], score[:batch]) for fmaps, score in outputs]
    second = [([f[batch:] for f in fmaps], score[batch:]) for fmaps, score in outputs]
    return first, second


def mel_of(hp, audio):
    """[B, 1, T] -> log-mel [B, mels, T // hop], the mel-loss features."""
    d = hp.data
    return mel_spectrogram_torch(audio.squeeze(1).float(), d.filter_length, d.mel_channels, d.sampling_rate,
                                 d.hop_length, d.win_length, d.mel_fmin, d.mel_fmax)


def generator_losses(hp, net_g, net_d, stft_loss, batch, amp_ctx):
    """Forward the generator and score it. Returns (terms dict of scalar tensors with "total",
    generated windows [B, 1, seg], real windows [B, 1, seg])."""
    with amp_ctx:
        fake, ids_slice, z_mask, latents, spk_preds = net_g(
            batch.ppg, batch.vec, batch.pit, batch.spec, batch.spk, batch.ppg_lengths, batch.spec_lengths)
    z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r = latents
    fake = fake.float()
    real = slice_audio(batch.audio, ids_slice, int(hp.data.hop_length), int(hp.data.segment_size))
    t = hp.train
    terms = {"mel": F.l1_loss(mel_of(hp, fake), mel_of(hp, real)) * float(t.c_mel)}
    sc, mag = stft_loss(fake.squeeze(1), real.squeeze(1))
    terms["stft"] = (sc + mag) * float(t.c_stft)
    with frozen(net_d), amp_ctx:
        fake_out, real_out = split_batch_outputs(net_d(torch.cat([fake, real])), fake.size(0))
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
    """A model's optimizer step with accumulation, optional fp16 grad scaler, clipping and a
    non-finite guard: a step whose gradient norm is NaN/inf is skipped (weights and optimizer
    state untouched) and reported."""

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
