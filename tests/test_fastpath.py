"""Fast inference paths match the plain reference path (polyphase activations, folded weight norm)."""
import os

import pytest
import torch
from omegaconf import OmegaConf

from vits.models import SynthesizerInfer, SynthesizerTrn
from vits_decoder.alias import SnakeAlias
from vits_decoder.alias import fused, polyphase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOP = 320


def load(name):
    return OmegaConf.load(os.path.join(ROOT, *name))


def sizes(hp):
    return hp.data.filter_length // 2 + 1, hp.data.segment_size // hp.data.hop_length


def nudged_state(model, seed, spread):
    """The model's state dict with every float tensor except the fixed filters nudged at random,
    so zero-initialised parts (Snake parameters, speaker adapter) matter too."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point() and "filter" not in key and "merge_" not in key:
            value = value + spread * torch.randn(value.shape, generator=gen)
        out[key] = value
    return out


def random_snake(channels, seed):
    torch.manual_seed(seed)
    act = SnakeAlias(channels)
    with torch.no_grad():
        act.act.alpha.normal_(0.0, 0.5)
        act.act.beta.normal_(0.0, 0.5)
    return act


@pytest.fixture(params=["fused", "polyphase"])
def fast_form(request, monkeypatch):
    """Which no-autograd fast activation runs: the compiled one (fused.py) or the torch matrix form
    (polyphase.py, what runs without numba); asserts afterwards that the named one ran."""
    calls = {"fused": 0}
    real = fused.snake_alias_fused

    def counting(*args):
        calls["fused"] += 1
        return real(*args)

    monkeypatch.setattr(fused, "snake_alias_fused", counting)
    if request.param == "polyphase":
        monkeypatch.setattr(fused, "kernel", lambda: None)
    yield request.param
    assert (calls["fused"] > 0) == (request.param == "fused")


@pytest.mark.parametrize("batch,channels,length", [
    (1, 3, 1), (2, 4, 2), (1, 5, 7), (2, 3, polyphase.BLOCK - 1), (1, 3, polyphase.BLOCK),
    (1, 3, polyphase.BLOCK + 1), (3, 6, 257)])
def test_fast_activation_equals_plain_including_edges(fast_form, batch, channels, length):
    act = random_snake(channels, seed=length)
    x = 2.0 * torch.randn(batch, channels, length)
    with torch.no_grad():
        plain = act(x)
        fast = act.use_polyphase(True)(x)
    assert fast.shape == plain.shape == x.shape
    assert plain.abs().max() > 0.1
    assert torch.allclose(fast, plain, atol=2e-6), (fast - plain).abs().max()


def test_fused_activation_holds_for_large_snake_arguments():
    """The kernel's own sin^2 (range reduction by pi) with |a x| up to ~2e4 (a = exp(alpha) up to
    e^7, |x| up to ~16): per channel, no further from the float64 result than the float32 plain
    path is (rounding of a x itself grows with a, so that is the bound)."""
    torch.manual_seed(21)
    act = SnakeAlias(8)
    with torch.no_grad():
        act.act.alpha.copy_(torch.linspace(-2.0, 7.0, 8))
        act.act.beta.copy_(torch.linspace(-1.0, 2.0, 8))
    x = 4.0 * torch.randn(2, 8, 3000)
    with torch.no_grad():
        exact = act.double()(x.double()).float()
        plain = act.float()(x)
        act.use_polyphase(True)
        assert fused.applies(x, *act.parameters())
        fast = act(x)
    plain_error = (plain - exact).abs().amax(dim=(0, 2))
    fast_error = (fast - exact).abs().amax(dim=(0, 2))
    assert plain_error[-1] > 2e-5  # the largest arguments are in the test
    assert (fast_error <= 2 * plain_error + 2e-6).all(), (fast_error, plain_error)


def test_fused_activation_splits_rows_over_threads_keeping_each_channel(monkeypatch):
    """Outside the decoder's tiles the rows go to two threads; a split inside a batch item must
    keep every row on its own channel's Snake parameters."""
    act = random_snake(5, seed=12).use_polyphase(True)
    x = torch.randn(1, 5, 20000)  # 5 rows -> threads take rows 0-1 and 2-4
    jobs = []
    pool = fused._row_pool()
    real_submit = pool.submit
    monkeypatch.setattr(pool, "submit", lambda *a: jobs.append(a) or real_submit(*a))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():
            fast = act(x)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        plain = act.use_polyphase(False)(x)
    assert len(jobs) == 2
    assert torch.allclose(fast, plain, atol=2e-6), (fast - plain).abs().max()


def test_switching_the_compiled_activation_off_runs_the_torch_form(monkeypatch):
    calls = []
    monkeypatch.setattr(fused, "snake_alias_fused", lambda *a: calls.append(1))
    act = random_snake(3, seed=14).use_polyphase(True)
    x = torch.randn(1, 3, 50)
    with torch.no_grad():
        with fused.switched_off():
            off = act(x)
        assert not calls
        act(x)
    assert calls == [1]
    with torch.no_grad():
        assert torch.allclose(off, act.use_polyphase(False)(x), atol=2e-6)


def test_without_numba_the_torch_form_runs_with_a_warning(monkeypatch):
    import sys

    monkeypatch.setattr(fused, "_kernel", None)
    monkeypatch.setattr(fused, "_missing", None)
    monkeypatch.setattr(fused, "_warming", "not started")  # the warning comes on this thread
    monkeypatch.setitem(sys.modules, "vits_decoder.alias.snake_kernel", None)  # import fails
    act = random_snake(3, seed=13)
    x = torch.randn(1, 3, 100)
    with torch.no_grad():
        plain = act(x)
        with pytest.warns(UserWarning, match="pip install numba"):
            fast = act.use_polyphase(True)(x)
        assert not fused.applies(x)
    assert isinstance(fused._missing, ImportError)
    assert torch.allclose(fast, plain, atol=2e-6)


@pytest.mark.parametrize("chunk_rows", [1, 2, 7])
def test_polyphase_activation_chunk_boundaries(monkeypatch, chunk_rows):
    monkeypatch.setattr(fused, "kernel", lambda: None)
    monkeypatch.setattr(polyphase, "CHUNK_ROWS", chunk_rows)
    act = random_snake(3, seed=9)
    x = torch.randn(2, 3, 3 * polyphase.BLOCK + 5)
    with torch.no_grad():
        plain = act(x)
        fast = act.use_polyphase(True)(x)
    assert torch.allclose(fast, plain, atol=2e-6), (fast - plain).abs().max()


def test_polyphase_activation_gradients_equal_plain():
    act = random_snake(4, seed=1)
    x = torch.randn(2, 4, 50)
    grads = []
    for enabled in (False, True):
        act.use_polyphase(enabled)
        act.zero_grad()
        xi = x.clone().requires_grad_(True)
        act(xi).sin().sum().backward()
        grads.append([xi.grad.clone(), act.act.alpha.grad.clone(), act.act.beta.grad.clone()])
    for plain, fast in zip(*grads):
        assert torch.allclose(plain, fast, atol=1e-5), (plain - fast).abs().max()


def test_fast_constants_follow_new_weights_and_dtypes(fast_form):
    act = random_snake(3, seed=2).use_polyphase(True)
    x = torch.randn(1, 3, 40)
    with torch.inference_mode():
        first = act(x)
    other = random_snake(3, seed=3)
    act.load_state_dict(other.state_dict())  # in-place copy: the cached constants must be rebuilt
    with torch.inference_mode():
        second = act(x)
        assert not torch.allclose(first, second)
        assert torch.allclose(second, other(x), atol=2e-6)
        double = act(x.double())
    assert double.dtype == torch.float64
    assert torch.allclose(double.float(), second, atol=2e-6)


def test_polyphase_refuses_other_filter_sizes():
    act = SnakeAlias(2, kernel_size=8)
    with pytest.raises(ValueError, match="12-tap"):
        act.use_polyphase(True)
    assert not act.polyphase


def test_tiny_fast_path_is_the_default_and_matches_plain():
    hp = load(("tests", "tiny.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    state = nudged_state(base, seed=0, spread=0.05)
    plain = SynthesizerInfer(*sizes(hp), hp).load_exported(state, fold=False).eval()
    fast = SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval()
    assert fast.fast and fast.folded and fast.dec.fast
    assert not plain.fast and not plain.folded and not plain.dec.fast
    # the exported layout does not change: same names, order and filter buffers
    assert list(plain.state_dict()) == list(base.state_dict())
    assert "dec.resblocks.0.activations.0.upsample.filter" in fast.state_dict()
    assert "dec.activation_post.downsample.lowpass.filter" in fast.state_dict()

    gen = torch.Generator().manual_seed(4)
    frames = 23
    ppg = torch.randn(2, frames, hp.vits.ppg_dim, generator=gen)
    vec = torch.randn(2, frames, hp.vits.vec_dim, generator=gen)
    f0 = 100 + 200 * torch.rand(2, frames, generator=gen)
    f0[:, :4] = 0.0
    spk = torch.randn(2, hp.vits.spk_dim, generator=gen)
    lengths = torch.tensor([frames, frames - 5])
    source = fast.pitch2source(f0, seed=1)
    a = plain.inference(ppg, vec, f0, spk, lengths, source, seed=2)
    b = fast.inference(ppg, vec, f0, spk, lengths, source, seed=2)
    assert a.shape == b.shape == (2, 1, frames * HOP)
    assert a.abs().max() > 1e-3
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()

    # and the switch goes back to the plain activations
    fast.use_fast_path(False)
    assert not fast.fast and fast.folded
    c = fast.inference(ppg, vec, f0, spk, lengths, source, seed=2)
    assert torch.allclose(a, c, atol=1e-5)


def test_training_generator_with_polyphase_matches_plain_forward_and_backward():
    hp = load(("tests", "tiny.yaml"))
    torch.manual_seed(0)
    net = SynthesizerTrn(*sizes(hp), hp)
    net.load_state_dict(nudged_state(net, seed=1, spread=0.05))
    gen = torch.Generator().manual_seed(5)
    z = torch.randn(2, hp.gen.upsample_input, 4, generator=gen)
    f0 = 100 + 200 * torch.rand(2, 4, generator=gen)
    spk = torch.randn(2, hp.vits.spk_dim, generator=gen)
    outputs, grads = [], []
    for enabled in (False, True):
        net.dec.use_fast_path(enabled)
        net.zero_grad()
        torch.manual_seed(6)  # same NSF phases and noise
        audio = net.dec(spk, z, f0, perturb=False)
        audio.pow(2).mean().backward()
        outputs.append(audio.detach())
        grads.append(net.dec.resblocks[0].activations[1].act.alpha.grad.clone())
    assert torch.allclose(outputs[0], outputs[1], atol=1e-5)
    assert grads[0].abs().max() > 0
    assert torch.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-7)


def test_base_size_generator_fast_equals_plain_within_1e4():
    hp = load(("configs", "base.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    state = nudged_state(base, seed=0, spread=0.02)
    del base
    plain = SynthesizerInfer(*sizes(hp), hp).load_exported(state, fold=False).eval()
    fast = SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval()
    gen = torch.Generator().manual_seed(7)
    frames = 12
    ppg = torch.randn(1, frames, hp.vits.ppg_dim, generator=gen)
    vec = torch.randn(1, frames, hp.vits.vec_dim, generator=gen)
    f0 = 150 + 100 * torch.rand(1, frames, generator=gen)
    spk = torch.randn(1, hp.vits.spk_dim, generator=gen)
    lengths = torch.tensor([frames])
    source = fast.pitch2source(f0, seed=3)
    a = plain.inference(ppg, vec, f0, spk, lengths, source, seed=4)
    b = fast.inference(ppg, vec, f0, spk, lengths, source, seed=4)
    assert a.abs().max() > 1e-3
    assert (a - b).abs().max() <= 1e-4


@pytest.mark.parametrize("channels,kernel,dilation,bias,tile_elements", [
    (16, 3, 1, True, 1 << 18), (20, 11, 3, True, 1 << 18), (24, 7, 5, False, 1 << 18), (20, 11, 3, True, 1)])
def test_per_tap_gemm_convolution_equals_conv1d(monkeypatch, channels, kernel, dilation, bias, tile_elements):
    from vits_decoder import fastconv
    from vits_decoder.fastconv import conv1d_by_taps, conv1d_fast, taps_apply

    monkeypatch.setattr(fastconv, "TILE_ELEMENTS", tile_elements)  # 1: 256-sample tiles

    torch.manual_seed(kernel)
    conv = torch.nn.Conv1d(channels, channels + 3, kernel, dilation=dilation, bias=bias,
                           padding=(kernel * dilation - dilation) // 2)
    x = torch.randn(2, channels, 601)
    with torch.no_grad():
        assert taps_apply(conv, x)
        ref = conv(x)
        out = conv1d_by_taps(conv, x)
        assert out.shape == ref.shape == (2, channels + 3, 601)
        assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()
        conv.weight.mul_(2.0)  # the cached tap weights follow an in-place change
        assert torch.allclose(conv1d_fast(conv, x), conv(x), atol=1e-5)
    assert not taps_apply(conv, x)  # autograd on: the module itself runs
    with torch.no_grad():
        assert not taps_apply(torch.nn.Conv1d(8, 8, 3), torch.randn(1, 8, 10))  # too narrow to pay off
        assert not taps_apply(torch.nn.Conv1d(80, 80, 3), torch.randn(1, 80, 10))  # oneDNN is faster there


@pytest.mark.parametrize("length", [1, 7, 30])
def test_per_tap_convolution_on_inputs_shorter_than_its_reach(length):
    """Taps whose whole window falls in the padding add nothing; the centre tap still covers all."""
    from vits_decoder.fastconv import conv1d_by_taps, taps_apply

    torch.manual_seed(length)
    conv = torch.nn.Conv1d(20, 20, 11, dilation=5, padding=25)
    x = torch.randn(1, 20, length)
    with torch.no_grad():
        assert taps_apply(conv, x)
        assert torch.allclose(conv1d_by_taps(conv, x), conv(x), atol=1e-5)
        assert not taps_apply(torch.nn.Conv1d(20, 20, 3, padding=0), x)  # not 'same': oneDNN runs it


def test_tracing_records_the_plain_path_that_works_at_any_length():
    act = random_snake(4, seed=11).use_polyphase(True)
    with torch.no_grad():
        traced = torch.jit.trace(act, torch.randn(1, 4, 40), check_trace=False)
        x = torch.randn(1, 4, 111)  # another length than traced
        assert torch.allclose(traced(x), act(x), atol=2e-6)



def test_tiled_decoder_matches_whole_and_needs_its_halo(monkeypatch):
    """The decoder cut into overlapping time tiles (run on two threads) gives the untiled output;
    cutting the computed halo short breaks the equality, so the halo bookkeeping is what holds it."""
    from vits_decoder import tiled

    hp = load(("tests", "tiny.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    dec = SynthesizerInfer(*sizes(hp), hp).load_exported(nudged_state(base, seed=3, spread=0.05)).eval().dec
    assert dec.tiled
    gen = torch.Generator().manual_seed(6)
    frames = 37
    x = torch.randn(2, hp.gen.upsample_input, frames, generator=gen)
    spk = torch.randn(2, hp.vits.spk_dim, generator=gen)
    source = 0.1 * torch.randn(2, 1, frames * dec.hop, generator=gen)
    with torch.inference_mode():
        whole = dec._synthesise(spk, x, source)
        assert whole.abs().max() > 1e-3
        for tile in (5, 11, 37):
            out = tiled.decode_tiled(dec, spk, x, source, workers=2, tile_frames=tile)
            assert out.shape == whole.shape
            assert (out - whole).abs().max() < 1e-5, tile
        assert (dec.inference(spk, x, source) - whole).abs().max() < 1e-5
        monkeypatch.setattr(tiled, "stage_halos", lambda g, real=tiled.stage_halos: (0, real(g)[1]))
        broken = tiled.decode_tiled(dec, spk, x, source, workers=2, tile_frames=5)
        assert (broken - whole).abs().max() > 1e-3


def test_tiled_decoder_takes_a_speaker_vector_per_frame():
    """A timbre that changes over time (--spk-mix) reaches the decoder as [B, T, spk]: each tile
    gets its own frames' vectors, and the joined output equals the untiled one."""
    from vits_decoder import tiled

    hp = load(("tests", "tiny.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    dec = SynthesizerInfer(*sizes(hp), hp).load_exported(nudged_state(base, seed=3, spread=0.05)).eval().dec
    gen = torch.Generator().manual_seed(8)
    frames = 37
    x = torch.randn(1, hp.gen.upsample_input, frames, generator=gen)
    spk = torch.randn(1, frames, hp.vits.spk_dim, generator=gen)
    source = 0.1 * torch.randn(1, 1, frames * dec.hop, generator=gen)
    with torch.inference_mode():
        whole = dec._synthesise(spk, x, source)
        out = tiled.decode_tiled(dec, spk, x, source, workers=2, tile_frames=5)
    assert out.shape == whole.shape
    assert (out - whole).abs().max() < 1e-5
