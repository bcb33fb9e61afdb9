"""One training step against an independent computation of the public so-vits-svc-5.0 loop's
formulas (vits_extend/train.py, vits_extend/stft.py, vits_extend/stft_loss.py, vits/losses.py),
written out here from their definitions: every loss term within 1e-4, every gradient within 1e-3.

Random draws (feature noise, posterior/prior samples, dropout, the window slice, the NSF source)
are made identical by seeding the generator the same way before our step and before the
reference forward, so both sides compute the same deterministic function."""
import contextlib
import os

import librosa
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from bench.bench_train import random_batch
from common.config import load_config
from tests.train_synthetic import TINY
from vits import train as train_step
from vits.models import SynthesizerTrn
from vits_decoder.discriminator import Discriminator
from vits_decoder.losses import MultiResolutionSTFTLoss

BASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "base.yaml")
SEED = 1234
TERM_TOL = 1e-4
GRAD_TOL = 1e-3


# ---- the public formulas, written out ----

def public_mel(y, d):
    """TacotronSTFT.mel_spectrogram: reflect pad (n_fft - hop) / 2, STFT without centering,
    |X| = sqrt(re^2 + im^2 + 1e-9), librosa (Slaney) mel basis, log(max(mel, 1e-5))."""
    n_fft, hop, win = int(d.filter_length), int(d.hop_length), int(d.win_length)
    pad = (n_fft - hop) // 2
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    ri = torch.view_as_real(torch.stft(y, n_fft, hop_length=hop, win_length=win, window=torch.hann_window(win, dtype=y.dtype),
                                       center=False, return_complex=True))
    mag = torch.sqrt(ri.pow(2).sum(-1) + 1e-9)
    basis = torch.from_numpy(librosa.filters.mel(sr=int(d.sampling_rate), n_fft=n_fft, n_mels=int(d.mel_channels),
                                                 fmin=float(d.mel_fmin), fmax=float(d.mel_fmax))).to(y.dtype)
    return torch.log(torch.clamp(basis @ mag, min=1e-5))


def public_stft_loss(x, y, resolutions):
    """Mean over resolutions of ||Y - X||_F / ||Y||_F and L1(log Y, log X), |X| clamped at 1e-7 power
    (centered STFT, reflect padding: torch.stft's defaults)."""
    sc, mag = 0.0, 0.0
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, dtype=x.dtype)

        def magnitude(s):
            ri = torch.view_as_real(torch.stft(s, n_fft, hop, win, window, return_complex=True))
            return torch.sqrt(torch.clamp(ri[..., 0] ** 2 + ri[..., 1] ** 2, min=1e-7)).transpose(2, 1)

        xm, ym = magnitude(x), magnitude(y)
        sc = sc + torch.norm(ym - xm, p="fro") / torch.norm(ym, p="fro")
        mag = mag + torch.nn.functional.l1_loss(torch.log(ym), torch.log(xm))
    return sc / len(resolutions), mag / len(resolutions)


def public_kl(z_p, logs_q, m_p, logs_p, logdet, mask):
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2.0 * logs_p)
    return (torch.sum(kl * mask) - torch.sum(logdet)) / torch.sum(mask)


def public_generator_step(hp, net_g, net_d, batch):
    """The public loop's generator losses: {term: tensor} (weighted as they enter loss_g) + windows."""
    t, d = hp.train, hp.data
    fake, ids, mask, (z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r), spk_preds = net_g(
        batch.ppg, batch.vec, batch.pit, batch.spec, batch.spk, batch.ppg_lengths, batch.spec_lengths)
    hop, seg = int(d.hop_length), int(d.segment_size)
    real = torch.stack([batch.audio[i, :, int(s) * hop: int(s) * hop + seg] for i, s in enumerate(ids.tolist())])
    spk = torch.nn.CosineEmbeddingLoss()(batch.spk, spk_preds, torch.ones(spk_preds.size(0)))
    mel = torch.nn.functional.l1_loss(public_mel(fake.squeeze(1), d), public_mel(real.squeeze(1), d)) * float(t.c_mel)
    sc, mag = public_stft_loss(fake.squeeze(1), real.squeeze(1), hp.mrd.resolutions)
    disc_fake, disc_real = net_d(fake), net_d(real)  # two calls, as the public loop
    adv = sum(torch.mean((score - 1.0) ** 2) for _, score in disc_fake) / len(disc_fake)
    fm = 0.0
    for (maps_f, _), (maps_r, _) in zip(disc_fake, disc_real):
        for f, r in zip(maps_f, maps_r):
            fm = fm + torch.mean(torch.abs(f - r))
    fm = fm / len(disc_fake) * 2
    terms = {"mel": mel, "stft": (sc + mag) * float(t.c_stft), "adv": adv, "fm": fm,
             "kl_f": public_kl(z_f, logs_q, m_p, logs_p, logdet_f, mask) * float(t.c_kl),
             "kl_r": public_kl(z_r, logs_p, m_q, logs_q, logdet_r, mask) * float(t.c_kl), "spk": spk}
    terms["total"] = (terms["adv"] + terms["fm"] + terms["mel"] + terms["stft"] + terms["kl_f"]
                      + terms["kl_r"] * 0.5 + terms["spk"] * 2)
    return terms, fake, real


def public_discriminator_loss(net_d, fake, real):
    disc_fake, disc_real = net_d(fake.detach()), net_d(real)
    loss = 0.0
    for (_, f), (_, r) in zip(disc_fake, disc_real):
        loss = loss + torch.mean((r - 1.0) ** 2) + torch.mean(f ** 2)
    return loss / len(disc_fake)


# ---- helpers ----

def models(hp, like=None):
    """Fresh plain generator and discriminator (seeded), or plain copies of the pair `like`."""
    torch.manual_seed(0)
    net_g, net_d = SynthesizerTrn.from_hparams(hp).train(), Discriminator(hp).train()
    if like is not None:
        net_g.load_state_dict(like[0].state_dict())
        net_d.load_state_dict(like[1].state_dict())
    return net_g, net_d


def grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


# Gradients that are zero in exact arithmetic: a bias on the attention keys shifts every logit of a
# query's row alike, which softmax ignores. What they hold is float noise (~1e-9 of the largest
# gradient), checked to be that small instead of compared.
ZERO_GRADIENTS = (".conv_k.bias",)


def worst_grad_error(ours, ref):
    """Worst over tensors of max|ours - ref| / max|ref| (the scale floored at 1e-6 of the model's
    largest gradient)."""
    assert ours.keys() == ref.keys()
    top = max(float(r.abs().max()) for r in ref.values())
    worst = 0.0
    for name, r in ref.items():
        if name.endswith(ZERO_GRADIENTS):
            assert max(float(r.abs().max()), float(ours[name].abs().max())) < 1e-6 * top, name
            continue
        worst = max(worst, float((ours[name] - r).abs().max()) / max(1e-6 * top, float(r.abs().max())))
    return worst


def trainer_models(hp, root):
    """The generator and discriminator exactly as the trainer builds them (its CPU path)."""
    from vits.train import TrainOptions, Trainer
    from vits.train_utils import DistInfo

    hp = OmegaConf.merge(hp, {"log": {"log_dir": str(root / "logs"), "pth_dir": str(root / "chkpt")}})
    trainer = Trainer(hp, "", TrainOptions(config="", name="public", device="cpu"), DistInfo())
    trainer.build_models()
    trainer.build_updaters()
    trainer.log.close()
    return trainer


def compare_one_step(hp, batch, root):
    """({term: relative error}, worst G gradient error, worst D gradient error, D loss error)."""
    trainer = trainer_models(hp, root)
    net_g, net_d = trainer.net_g.train(), trainer.net_d.train()
    ref_g, ref_d = models(hp, like=(net_g, net_d))  # the same weights, the public model's plain path
    stft = trainer.stft_loss

    torch.manual_seed(SEED)
    terms, fake, real = train_step.generator_losses(hp, net_g, net_d, stft, batch, train_step.autocast_context(
        torch.device("cpu"), "none"))
    terms["total"].backward()
    loss_d = train_step.discriminator_losses(net_d, fake, real, train_step.autocast_context(torch.device("cpu"), "none"))
    net_d.zero_grad(set_to_none=True)  # the generator pass leaves none (D frozen); be explicit
    loss_d.backward()

    torch.manual_seed(SEED)
    ref_terms, ref_fake, ref_real = public_generator_step(hp, ref_g, ref_d, batch)
    ref_terms["total"].backward()
    ref_d.zero_grad(set_to_none=True)  # optim_d.zero_grad() drops what the generator pass left in D
    ref_loss_d = public_discriminator_loss(ref_d, ref_fake, ref_real)
    ref_loss_d.backward()

    term_errors = {k: abs(terms[k].item() - ref_terms[k].item()) / max(1.0, abs(ref_terms[k].item()))
                   for k in ref_terms}
    return (term_errors, worst_grad_error(grads(net_g), grads(ref_g)), worst_grad_error(grads(net_d), grads(ref_d)),
            abs(loss_d.item() - ref_loss_d.item()))


@pytest.mark.slow
def test_one_step_equals_the_public_formulas_at_base_size(tmp_path):
    """configs/base.yaml (the default config), batch 2 of 0.5 s, the models as the trainer builds them."""
    hp = load_config(BASE)
    terms, worst_g, worst_d, err_d = compare_one_step(hp, random_batch(hp, 2, 50, "cpu", seed=3), tmp_path)
    print("loss-term errors", {k: f"{v:.1e}" for k, v in terms.items()}, f"G grad {worst_g:.1e} D grad {worst_d:.1e}")
    assert max(terms.values()) < TERM_TOL, terms
    assert err_d < TERM_TOL
    assert worst_g < GRAD_TOL and worst_d < GRAD_TOL, (worst_g, worst_d)


def test_one_step_equals_the_public_formulas_tiny(tmp_path):
    hp = load_config(TINY)
    terms, worst_g, worst_d, err_d = compare_one_step(hp, random_batch(hp, 2, 30, "cpu", seed=5), tmp_path)
    assert max(terms.values()) < TERM_TOL, terms
    assert err_d < TERM_TOL
    assert worst_g < GRAD_TOL and worst_d < GRAD_TOL, (worst_g, worst_d)


def test_mel_loss_floor_is_the_public_one():
    """Noise at -80 dBFS over a silent target: the public loss (1e-9 floor) scores it ~2.4x what a
    1e-6 floor (the posterior encoder's) would: quiet noise in pauses is not let off."""
    hp = load_config(BASE)
    d = hp.data
    gen = torch.Generator().manual_seed(0)
    noise = 1e-4 * torch.randn(1, 1, 8000, generator=gen)
    silence = torch.zeros(1, 1, 8000)
    ours = torch.nn.functional.l1_loss(train_step.mel_of(hp, noise), train_step.mel_of(hp, silence)).item()
    public = torch.nn.functional.l1_loss(public_mel(noise.squeeze(1), d), public_mel(silence.squeeze(1), d)).item()
    assert ours == pytest.approx(public, rel=1e-4)
    from vits.spectrogram import mel_spectrogram_torch

    coarse = [mel_spectrogram_torch(x.squeeze(1), d.filter_length, d.mel_channels, d.sampling_rate, d.hop_length,
                                    d.win_length, d.mel_fmin, d.mel_fmax, floor=1e-6) for x in (noise, silence)]
    assert public / torch.nn.functional.l1_loss(*coarse).item() > 2.0


def test_accumulation_steps_the_discriminator_every_micro_batch(tmp_path, monkeypatch):
    """accum_step 2 (the default): after two micro-batches the weights equal the public loop's,
    which steps D on each micro-batch at lr / 2 and G once on the averaged gradient."""
    from vits.train import TrainOptions, Trainer
    from vits.train_utils import DistInfo

    monkeypatch.chdir(tmp_path)
    hp = OmegaConf.merge(load_config(TINY), {"train": {"accum_step": 2, "learning_rate": 1e-3}})
    trainer = Trainer(hp, "", TrainOptions(config="", name="acc", device="cpu"), DistInfo())
    trainer.build_models()
    trainer.build_updaters()
    net_g, net_d = trainer.net_g, trainer.net_d
    ref_g, ref_d = models(hp, like=(net_g, net_d))
    t = hp.train
    optim_g = torch.optim.AdamW(ref_g.parameters(), lr=t.learning_rate, betas=t.betas, eps=t.eps)
    optim_d = torch.optim.AdamW(ref_d.parameters(), lr=t.learning_rate / t.accum_step, betas=t.betas, eps=t.eps)
    batches = [random_batch(hp, 2, 30, "cpu", seed=s) for s in (1, 2)]

    init_g, init_d = models(hp, like=(net_g, net_d))
    for index, batch in enumerate(batches):
        torch.manual_seed(SEED + index)
        terms, loss_d = trainer.micro_step(batch, 2, index == 1)
    trainer.optimizer_step(terms, loss_d)
    assert trainer.step == 1

    for index, batch in enumerate(batches):
        torch.manual_seed(SEED + index)
        terms, fake, real = public_generator_step(hp, ref_g, ref_d, batch)
        terms["total"].backward()
        if index == 1:
            for p in ref_g.parameters():
                if p.grad is not None:
                    p.grad /= 2
            optim_g.step()
            optim_g.zero_grad()
        optim_d.zero_grad()
        public_discriminator_loss(ref_d, fake, real).backward()
        optim_d.step()

    lr = float(t.learning_rate)
    for ours, ref, init in ((net_g, ref_g, init_g), (net_d, ref_d, init_d)):
        for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
            if not name.endswith(ZERO_GRADIENTS):  # Adam turns their float noise into full-size steps
                assert torch.allclose(a, b, atol=0.05 * lr, rtol=0), name
        assert any(not torch.equal(a, b) for a, b in zip(ours.parameters(), init.parameters()))
    # D took two Adam steps of lr / 2 each (a step moves a weight by at most about its lr)
    shift = max(float((a - b).detach().abs().max()) for a, b in zip(net_d.parameters(), init_d.parameters()))
    assert 0.5 * lr < shift <= 1.01 * lr


# ---- the fast path's training step: the same function, told apart from float32 noise ----
#
# Its float32 gradients miss GRAD_TOL in a few decoder tensors (dec.conv_pre, dec.ups.0,
# dec.noise_convs.0, dec.adapter: gradients ~1e-5 of the model's largest, sums of large terms that
# cancel). So does the plain path against itself when only the float32 summation order changes:
# at base size, batch 2, torch.set_num_threads(1) against 2 moves those tensors by 2.0e-2 (the
# fast path against plain: 1.9e-2), and against a float64 run of the same draws the plain float32
# step is off by 0.8e-2 (2 threads) to 2.7e-2 (1 thread), the fast one by 1.4e-2 to 2.2e-2
# (bench/bench_grad_noise.py prints these). Per-tensor 1e-3 is below float32's own noise there.
# What tells a different function from rounding is float64, where rounding is ~1e-9 smaller:
# run in float64, the fast path's gradients equal the plain path's within FLOAT64_TOL. (In float64
# the activation takes its torch polyphase form; the compiled kernel's own gradients are checked
# against the plain ones in tests/test_fastpath.py.)

FLOAT64_TOL = 1e-9


@contextlib.contextmanager
def float32_draws():
    """Random draws made in float32 and cast, dropout masks from float32 draws: a float64 model
    then draws the same numbers as the float32 one (torch draws other values per dtype)."""
    rand, randn, rand_like, randn_like, dropout = (torch.rand, torch.randn, torch.rand_like, torch.randn_like,
                                                   torch.nn.functional.dropout)

    def drawn(fn):
        def draw(*args, dtype=None, **kwargs):
            return fn(*args, dtype=torch.float32, **kwargs).to(dtype or torch.get_default_dtype())
        return draw

    def drawn_like(fn):
        def draw(x, **kwargs):
            return fn(x, dtype=torch.float32, **kwargs).to(x.dtype)
        return draw

    def masked(x, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return x
        return x * (rand(x.shape, dtype=torch.float32) >= p).to(x.dtype) / (1.0 - p)

    torch.rand, torch.randn = drawn(rand), drawn(randn)
    torch.rand_like, torch.randn_like = drawn_like(rand_like), drawn_like(randn_like)
    torch.nn.functional.dropout = masked
    try:
        yield
    finally:
        torch.rand, torch.randn, torch.rand_like, torch.randn_like = rand, randn, rand_like, randn_like
        torch.nn.functional.dropout = dropout


def public_gradients(hp, like, batch, fast, dtype):
    """Generator gradients of the public step on a copy of the pair `like`, plain or through
    accelerate(training=True), in `dtype`."""
    from vits_decoder.fast import accelerate

    net_g, net_d = models(hp, like=like)
    if fast:
        accelerate(net_g, "cpu", training=True)
    net_g, net_d = net_g.to(dtype), net_d.to(dtype)
    batch = type(batch)(*(t.to(dtype) if t.is_floating_point() else t for t in batch[:-1]), batch.names)
    with float32_draws():
        torch.manual_seed(SEED)
        terms, _, _ = public_generator_step(hp, net_g, net_d, batch)
        terms["total"].backward()
    return grads(net_g)


def fast_against_plain_in_float64(hp, batch):
    like = models(hp)
    plain = public_gradients(hp, like, batch, False, torch.float64)
    fast = public_gradients(hp, like, batch, True, torch.float64)
    return worst_grad_error(fast, plain)


def test_fast_path_step_is_the_plain_function_in_float64_tiny():
    hp = load_config(TINY)
    worst = fast_against_plain_in_float64(hp, random_batch(hp, 2, 30, "cpu", seed=5))
    assert worst < FLOAT64_TOL, worst


@pytest.mark.slow
def test_fast_path_step_is_the_plain_function_in_float64_at_base_size():
    hp = load_config(BASE)
    worst = fast_against_plain_in_float64(hp, random_batch(hp, 2, 50, "cpu", seed=3))
    print(f"fast vs plain, float64: {worst:.1e}")
    assert worst < FLOAT64_TOL, worst


def test_float64_check_tells_a_changed_function():
    """The float64 comparison fails on a fast path that computes something else (one activation's
    log-beta moved by 1e-4): the gradients move by more than 1e-7, far less than float32 rounding moves them."""
    hp = load_config(TINY)
    batch = random_batch(hp, 2, 30, "cpu", seed=5)
    like = models(hp)
    plain = public_gradients(hp, like, batch, False, torch.float64)
    with torch.no_grad():
        like[0].dec.resblocks[0].activations[0].act.beta.add_(1e-4)
    changed = public_gradients(hp, like, batch, True, torch.float64)
    assert worst_grad_error(changed, plain) > 100 * FLOAT64_TOL
