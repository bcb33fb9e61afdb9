"""Behaviour of the SVC network on the tiny config: training step, inference, flow, NSF, pitch bins."""
import copy
import os

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.checkpoint import CheckpointError
from vits.models import SynthesizerInfer, SynthesizerTrn, f0_to_coarse
from vits.modules import GradientReversal, ResidualCouplingBlock, sequence_mask
from vits_decoder.alias import SnakeAlias
from vits_decoder.alias.resample import DownSample1d, UpSample1d
from vits_decoder.discriminator import Discriminator
from vits_decoder.fast import accelerate, fold_weight_norm
from vits_decoder.fast.attention import BandedAttention
from vits_decoder.nsf import SourceModuleHnNSF

HOP = 320


def spec_channels(hp):
    return hp.data.filter_length // 2 + 1


def features(hp, batch=2, frames=14, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ppg = torch.randn(batch, frames, hp.vits.ppg_dim, generator=gen)
    vec = torch.randn(batch, frames, hp.vits.vec_dim, generator=gen)
    pit = 100 + 300 * torch.rand(batch, frames, generator=gen)
    pit[:, :3] = 0.0  # an unvoiced start
    spk = torch.randn(batch, hp.vits.spk_dim, generator=gen)
    spec = torch.rand(batch, spec_channels(hp), frames, generator=gen)
    lengths = torch.tensor([frames] + [frames - 2] * (batch - 1))
    return ppg, vec, pit, spk, spec, lengths


def test_training_forward_backward_reaches_all_parts(hp):
    torch.manual_seed(0)
    segment = hp.data.segment_size // hp.data.hop_length
    net_g = SynthesizerTrn(spec_channels(hp), segment, hp)
    net_d = Discriminator(hp)
    ppg, vec, pit, spk, spec, lengths = features(hp)
    audio, ids, spec_mask, stats, spk_preds = net_g(ppg, vec, pit, spec, spk, lengths, lengths)
    z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q, logdet_f, logdet_r = stats

    assert audio.shape == (2, 1, hp.data.segment_size)
    assert ids.shape == (2,) and bool(((ids >= 0) & (ids + segment <= lengths)).all())
    assert spec_mask.shape == (2, 1, 14) and spec_mask[1, 0, 12:].sum() == 0
    for t in (z_f, z_r, z_p, m_p, logs_p, z_q, m_q, logs_q):
        assert t.shape == (2, hp.vits.inter_channels, 14)
    assert logdet_f.shape == logdet_r.shape == (2,)
    assert spk_preds.shape == (2, hp.vits.spk_dim)

    outputs = net_d(audio)
    n_disc = len(hp.mrd.resolutions) + len(hp.mpd.periods) + 1
    assert len(outputs) == n_disc
    kl_like = (z_f - m_p).pow(2).mean() + (z_r - m_q).pow(2).mean() - logdet_f.mean() - logdet_r.mean()
    loss = sum(score.pow(2).mean() + sum(f.abs().mean() for f in fmap) for fmap, score in outputs)
    loss = loss + kl_like - torch.cosine_similarity(spk_preds, spk).mean() + audio.abs().mean()
    loss.backward()

    for net in (net_g, net_d):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
    for part in ("emb_g", "enc_p", "speaker_classifier", "enc_q", "flow", "dec"):
        grads = [p.grad.abs().sum() for n, p in net_g.named_parameters() if n.startswith(part + ".")]
        assert sum(grads) > 0, part
    for part in ("MRD", "MPD", "MSD"):
        grads = [p.grad.abs().sum() for n, p in net_d.named_parameters() if n.startswith(part + ".")]
        assert sum(grads) > 0, part


def test_inference_length_and_folded_equals_unfolded(hp):
    torch.manual_seed(1)
    trained = SynthesizerTrn(spec_channels(hp), 4, hp)
    with torch.no_grad():  # give the zero-initialised parts some weight so every path matters
        for p in trained.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = trained.state_dict()
    plain = SynthesizerInfer(spec_channels(hp), 4, hp).load_exported(state).eval()
    folded = fold_weight_norm(SynthesizerInfer(spec_channels(hp), 4, hp).load_exported(state).eval())
    assert not plain.folded and folded.folded

    ppg, vec, pit, spk, _, lengths = features(hp, batch=1, frames=11, seed=3)
    source = plain.pitch2source(pit, seed=5)
    assert source.shape == (1, 1, 11 * HOP)
    assert torch.equal(source, folded.pitch2source(pit, seed=5))
    a = plain.inference(ppg, vec, pit, spk, lengths, source, seed=7)
    b = folded.inference(ppg, vec, pit, spk, lengths, source, seed=7)
    assert a.shape == (1, 1, 11 * HOP)
    assert torch.isfinite(a).all() and a.abs().max() <= 1.0
    assert a.abs().max() > 1e-4
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    # other seed -> another prior sample -> other audio; same seed -> same audio
    assert torch.equal(a, plain.inference(ppg, vec, pit, spk, lengths, source, seed=7))
    assert not torch.equal(a, plain.inference(ppg, vec, pit, spk, lengths, source, seed=8))
    # the training model's validation path gives the same length
    with torch.no_grad():
        assert trained.eval().infer(ppg, vec, pit, spk, lengths, seed=0).shape == (1, 1, 11 * HOP)


def test_clips_shorter_than_the_decoder_window_are_refused(hp):
    net_g = SynthesizerTrn(spec_channels(hp), 20, hp)
    ppg, vec, pit, spk, spec, lengths = features(hp, frames=14)
    with pytest.raises(ValueError, match="shorter than the decoder window of 20 frames"):
        net_g(ppg, vec, pit, spec, spk, lengths, lengths)


def test_load_exported_accepts_modern_weight_norm_keys_and_rejects_other_sizes(hp):
    net = SynthesizerInfer(spec_channels(hp), 4, hp)
    modern = {}
    for k, v in net.state_dict().items():
        for old, new in (("weight_g", "parametrizations.weight.original0"),
                         ("weight_v", "parametrizations.weight.original1")):
            if k.endswith(old):
                k = k[: -len(old)] + new
        modern[k] = v.clone() + 1.0
    other = SynthesizerInfer(spec_channels(hp), 4, hp).load_exported(modern)
    assert torch.equal(other.state_dict()["dec.ups.0.weight_g"], modern["dec.ups.0.parametrizations.weight.original0"])

    bigger = OmegaConf.merge(hp, {"vits": {"hidden_channels": 16}})
    wrong = SynthesizerInfer(spec_channels(hp), 4, bigger).state_dict()
    with pytest.raises(CheckpointError, match="another shape.*--config"):
        SynthesizerInfer(spec_channels(hp), 4, hp).load_exported(wrong, "big.pth")


def test_flow_inverts_and_logdets_cancel():
    torch.manual_seed(2)
    flow = ResidualCouplingBlock(8, 8, 5, 1, 2, n_flows=4, spk_channels=6)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 8, 10)
    mask = sequence_mask(torch.tensor([10, 7]), 10).unsqueeze(1).float()
    x = x * mask
    spk = torch.randn(2, 6)
    y, logdet_f = flow(x, mask, g=spk)
    back, logdet_r = flow(y, mask, g=spk, reverse=True)
    assert torch.allclose(back, x, atol=1e-5)
    assert torch.allclose(logdet_f, -logdet_r, atol=1e-5)
    assert not torch.allclose(y, x)
    # the speaker shift/scale acts on valid frames only: the log-det scales with the length
    per_frame = logdet_f / torch.tensor([10.0, 7.0])
    assert torch.allclose(per_frame, flow(x[:, :, :7], mask[:, :, :7], g=spk)[1] / 7.0, atol=1e-5)


def test_content_encoder_ignores_padding(hp):
    torch.manual_seed(3)
    net = SynthesizerInfer(spec_channels(hp), 4, hp).eval()
    ppg, vec, pit, _, _, _ = features(hp, batch=1, frames=9, seed=4)
    lengths = torch.tensor([9])
    # batches pad features with zeros (what the k=5 input convolutions see at the edge anyway);
    # the pitch in the padding is arbitrary
    padded = [torch.cat([t, torch.zeros_like(t[:, :4])], 1) for t in (ppg, vec)]
    pit_padded = torch.cat([pit, torch.full((1, 4), 500.0)], 1)
    with torch.no_grad():
        _, m, logs, _, _ = net.enc_p(ppg, lengths, vec, f0_to_coarse(pit))
        _, m2, logs2, mask, _ = net.enc_p(padded[0], lengths, padded[1], f0_to_coarse(pit_padded))
    assert torch.allclose(m, m2[:, :, :9], atol=1e-5) and torch.allclose(logs, logs2[:, :, :9], atol=1e-5)
    assert m2[:, :, 9:].abs().max() == 0


def test_gradient_reversal_flips_the_sign():
    x = torch.randn(3, 4, requires_grad=True)
    y = GradientReversal(0.5)(x)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, -0.5))


def test_nsf_source_follows_pitch(hp):
    net = SynthesizerInfer(spec_channels(hp), 4, hp)
    frames = 50
    f0 = torch.full((1, frames), 200.0)
    f0[:, 25:] = 0.0
    source = net.pitch2source(f0, seed=0)[0, 0]
    voiced, unvoiced = source[: 25 * HOP].numpy(), source[25 * HOP:].numpy()
    spectrum = np.abs(np.fft.rfft(voiced * np.hanning(len(voiced))))
    peak_hz = np.argmax(spectrum) * hp.data.sampling_rate / len(voiced)
    assert abs(peak_hz - 200.0) < 5.0
    assert 0.01 < voiced.std() < 0.1
    assert unvoiced.std() < voiced.std() / 2 and unvoiced.std() > 0  # noise only
    assert torch.equal(net.pitch2source(f0, seed=0)[0, 0], source)


def test_nsf_source_in_blocks_continues_the_phase():
    """A long source is made in blocks (bounded memory); the sines run on across block borders."""
    source = SourceModuleHnNSF(sampling_rate=32000, noise_std=0.0)
    f0 = torch.linspace(150.0, 600.0, 5000).view(1, -1, 1)  # a glide, voiced throughout: no noise
    torch.manual_seed(3)
    whole = source(f0, block_samples=10 ** 6)
    torch.manual_seed(3)
    blocked = source(f0, block_samples=777)
    assert blocked.shape == whole.shape == (1, 5000, 1)
    assert torch.allclose(blocked, whole, atol=1e-5)
    assert whole.std() > 0.01


def test_f0_to_coarse_bins():
    hz = torch.tensor([0.0, 20.0, 50.0, 51.0, 200.0, 1099.0, 1100.0, 3000.0])
    bins = f0_to_coarse(hz)
    assert bins.dtype == torch.int64
    assert bins[0] == 1 and bins[1] == 1 and bins[2] == 1
    assert bins[-2] == 255 and bins[-1] == 255 and bins[-3] >= 254
    sweep = f0_to_coarse(torch.linspace(50, 1100, 2000))
    assert bool((sweep[1:] >= sweep[:-1]).all()) and set(sweep.tolist()) == set(range(1, 256))
    assert np.array_equal(f0_to_coarse(hz.numpy()), bins.numpy())
    # mel spacing: 440 Hz sits where its mel value falls between the ends
    mel = lambda f: 1127 * np.log1p(f / 700)  # noqa: E731
    expect = (mel(440) - mel(50)) * 254 / (mel(1100) - mel(50)) + 1
    assert f0_to_coarse(torch.tensor([440.0])).item() == int(np.floor(expect + 0.5))


def test_anti_aliased_resampling_keeps_length_and_low_tones():
    t = torch.arange(400, dtype=torch.float32)
    tone = torch.sin(2 * np.pi * 0.05 * t).view(1, 1, -1).repeat(1, 3, 1)
    up = UpSample1d(2)(tone)
    assert up.shape == (1, 3, 800)
    down = DownSample1d(2)(up)
    assert down.shape == (1, 3, 400)
    assert torch.allclose(down[..., 20:-20], tone[..., 20:-20], atol=0.02)
    act = SnakeAlias(3)
    assert act(tone).shape == tone.shape
    assert act.upsample.filter.shape == (1, 1, 12) and act.downsample.lowpass.filter.shape == (1, 1, 12)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 9, 40])
def test_relative_attention_diagonals_equal_offset_tables(length):
    """The diagonal form (vits_decoder.fast, used everywhere but in tracing) computes what the
    [L, 2L-1] offset tables of the public code compute, values and gradients, short inputs included."""
    from vits import attentions

    torch.manual_seed(length)
    layer = attentions.RelativeSelfAttention(16, 2, window_size=4)
    x = torch.randn(2, 16, length)
    mask = torch.ones(2, 1, length, length)
    mask[1, :, :, length // 2 + 1:] = 0  # a padded second item
    banded = copy.deepcopy(layer)
    assert isinstance(accelerate(banded, "cpu"), BandedAttention)

    def run(layer):
        xi = x.clone().requires_grad_(True)
        y = layer(xi, mask)
        y.square().sum().backward()
        return [y.detach(), xi.grad, layer.emb_rel_k.grad, layer.emb_rel_v.grad]

    diagonals = run(banded)
    tables = run(layer)
    for ours, theirs in zip(diagonals, tables):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-6)
