"""Loss functions, the guarded optimizer update, checkpoint pruning and the stop handler."""
import math
import os
import signal

import pytest
import torch

from vits.losses import kl_loss, speaker_loss
from vits.train import Updater, slice_audio, split_batch_outputs
from vits.train_utils import StopRequest, list_checkpoints, prune_checkpoints
from vits_decoder.losses import (MultiResolutionSTFTLoss, discriminator_loss, feature_matching_loss,
                                 generator_adversarial_loss)


def test_kl_matches_closed_form_expectation():
    torch.manual_seed(0)
    b, c, t = 2, 3, 20000
    m_q, logs_q = torch.randn(b, c, 1), 0.3 * torch.randn(b, c, 1)
    m_p, logs_p = torch.randn(b, c, 1), 0.3 * torch.randn(b, c, 1)
    z = m_q + torch.randn(b, c, t) * torch.exp(logs_q)  # samples of q
    mask = torch.ones(b, 1, t)
    expand = [x.expand(b, c, t) for x in (logs_q, m_p, logs_p)]
    estimate = kl_loss(z, *expand, torch.zeros(b), mask)
    exact = (logs_p - logs_q + 0.5 * (torch.exp(2 * logs_q) + (m_q - m_p) ** 2) * torch.exp(-2 * logs_p) - 0.5).sum()
    assert estimate.item() == pytest.approx(exact.item() / b, rel=0.05)  # summed over channels, mean per frame
    # the flow's log-determinant is subtracted per masked frame
    assert kl_loss(z, *expand, torch.full((b,), 10.0 * t), mask).item() == pytest.approx(estimate.item() - 10.0)


def test_kl_ignores_masked_frames():
    z, logs_q, m_p, logs_p = (torch.randn(1, 2, 8) for _ in range(4))
    mask = torch.zeros(1, 1, 8)
    mask[..., :4] = 1
    changed = z.clone()
    changed[..., 4:] = 100.0
    args = (logs_q, m_p, logs_p, torch.zeros(1), mask)
    assert kl_loss(z, *args).item() == pytest.approx(kl_loss(changed, *args).item())


def test_speaker_loss_is_one_minus_cosine():
    spk = torch.randn(3, 16)
    assert speaker_loss(spk, 2.5 * spk).item() == pytest.approx(0.0, abs=1e-6)
    assert speaker_loss(spk, -spk).item() == pytest.approx(2.0)


def test_stft_loss_zero_for_identical_and_grows_with_error():
    torch.manual_seed(0)
    loss = MultiResolutionSTFTLoss([(512, 50, 240), (1024, 120, 600)])
    real = torch.randn(2, 4000)
    sc, mag = loss(real, real)
    assert sc.item() == pytest.approx(0.0, abs=1e-6) and mag.item() == pytest.approx(0.0, abs=1e-6)
    small = loss(real + 0.05 * torch.randn(2, 4000), real)
    large = loss(real + 0.5 * torch.randn(2, 4000), real)
    assert 0 < small[0] < large[0] and 0 < small[1] < large[1]


def test_lsgan_and_feature_matching_values():
    real = [([torch.ones(2, 3)], torch.ones(2, 5)), ([torch.zeros(2, 4)], torch.ones(2, 1))]
    fake = [([torch.zeros(2, 3)], torch.zeros(2, 5)), ([torch.zeros(2, 4)], torch.zeros(2, 1))]
    assert discriminator_loss(real, fake).item() == pytest.approx(0.0)  # perfect discriminator
    assert discriminator_loss(fake, real).item() == pytest.approx(2.0)
    assert generator_adversarial_loss(fake).item() == pytest.approx(1.0)
    assert generator_adversarial_loss(real).item() == pytest.approx(0.0)
    # mean |diff| is 1 for the first, 0 for the second: 2 x mean(1, 0) = 1
    assert feature_matching_loss(real, fake).item() == pytest.approx(1.0)


def test_split_and_slice_helpers():
    outputs = [([torch.arange(8.0).view(4, 2)], torch.arange(4.0).view(4, 1))]
    first, second = split_batch_outputs(outputs, 2)
    assert first[0][1].flatten().tolist() == [0, 1] and second[0][0][0].shape == (2, 2)
    audio = torch.arange(2 * 3200.0).view(2, 1, 3200)
    windows = slice_audio(audio, torch.tensor([0, 3]), 320, 640)
    assert windows.shape == (2, 1, 640) and windows[1, 0, 0].item() == 3200 + 960


def test_updater_skips_non_finite_and_clips():
    model = torch.nn.Linear(3, 1)
    optim = torch.optim.AdamW(model.parameters(), lr=0.1)
    updater = Updater(model, optim, grad_clip=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    updater.backward(model(torch.full((1, 3), float("nan"))).sum(), accum_step=1)
    norm, applied = updater.step()
    assert not applied and math.isnan(norm)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())) and optim.state_dict()["state"] == {}
    assert all(p.grad is None for p in model.parameters())
    updater.backward(model(torch.full((1, 3), 100.0)).sum(), accum_step=2)
    updater.backward(model(torch.full((1, 3), 100.0)).sum(), accum_step=2)
    grads = [p.grad.clone() for p in model.parameters()]
    assert grads[0][0, 0].item() == pytest.approx(100.0)  # two halves accumulate to one full gradient
    norm, applied = updater.step()
    assert applied and norm > 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_prune_keeps_newest_epochs(tmp_path):
    for epoch in (1, 2, 10, 3):
        (tmp_path / f"run_{epoch:04d}.pt").write_bytes(b"x")
    (tmp_path / "other_0001.pt").write_bytes(b"x")
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path), "run")] == [
        "run_0001.pt", "run_0002.pt", "run_0003.pt", "run_0010.pt"]
    assert prune_checkpoints(str(tmp_path), "run", 0) == []
    removed = prune_checkpoints(str(tmp_path), "run", 2)
    assert sorted(os.path.basename(p) for p in removed) == ["run_0001.pt", "run_0002.pt"]
    assert sorted(os.listdir(tmp_path)) == ["other_0001.pt", "run_0003.pt", "run_0010.pt"]


def test_stop_request_second_signal_aborts():
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a shell's background job
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested and stop.signal_name == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_first_fp16_step_has_finite_gradients(hp):
    """fp16 autocast (on the CPU here; the trainer uses it on CUDA) at the first loss scale: the
    encoders and flow run in float32 and the scale leaves room, so the very first step updates
    (it used to be inf/NaN for the first 8 steps)."""
    from omegaconf import OmegaConf

    from bench.bench_train import random_batch
    from tests.train_synthetic import FAST
    from vits.models import SynthesizerTrn
    from vits.train import FP16_INIT_SCALE, generator_losses
    from vits_decoder.discriminator import Discriminator

    hp = OmegaConf.merge(hp, FAST)
    torch.manual_seed(0)
    net_g, net_d = SynthesizerTrn.from_hparams(hp).train(), Discriminator(hp).train()
    batch = random_batch(hp, 2, 40, "cpu")
    terms, _, _ = generator_losses(hp, net_g, net_d, MultiResolutionSTFTLoss(hp.mrd.resolutions), batch,
                                   torch.autocast("cpu", dtype=torch.float16))
    (terms["total"] * FP16_INIT_SCALE).backward()
    bad = [n for n, p in net_g.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, bad[:5]
    out_dtypes = {}
    for name in ("enc_p.proj", "enc_q.proj", "dec.conv_post"):
        net_g.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: out_dtypes.update({name: output.dtype}))
    with torch.autocast("cpu", dtype=torch.float16):  # only the decoder runs in half precision
        net_g(batch.ppg, batch.vec, batch.pit, batch.spec, batch.spk, batch.ppg_lengths, batch.spec_lengths)
    assert out_dtypes == {"enc_p.proj": torch.float32, "enc_q.proj": torch.float32, "dec.conv_post": torch.float16}


def test_generator_pass_scores_real_windows_without_a_graph(hp):
    """generator_losses calls D on the fake windows (graph into G, D frozen) and on the real ones
    with no graph at all: their features are the feature loss's targets, so a backward through
    them (what one call on torch.cat([fake, real]) paid for) would be thrown away."""
    from omegaconf import OmegaConf

    from bench.bench_train import random_batch
    from tests.train_synthetic import FAST
    from vits.models import SynthesizerTrn
    from vits.train import autocast_context, generator_losses
    from vits_decoder.discriminator import Discriminator

    hp = OmegaConf.merge(hp, FAST)
    torch.manual_seed(0)
    net_g, net_d = SynthesizerTrn.from_hparams(hp).train(), Discriminator(hp).train()
    batch = random_batch(hp, 2, 40, "cpu")
    calls = []
    net_d.register_forward_hook(lambda module, inputs, output: calls.append(
        (inputs[0].size(0), inputs[0].requires_grad, torch.is_grad_enabled(), output[0][1].requires_grad)))
    terms, fake, real = generator_losses(hp, net_g, net_d, MultiResolutionSTFTLoss(hp.mrd.resolutions), batch,
                                         autocast_context(torch.device("cpu"), "none"))
    # (batch rows, input needs grad, grad mode, scores carry a graph): fake first, then real
    assert calls == [(2, True, True, True), (2, False, False, False)]
    terms["total"].backward()
    assert all(p.grad is None for p in net_d.parameters())  # D stayed frozen
    assert all(p.requires_grad for p in net_d.parameters())  # and was unfrozen after
