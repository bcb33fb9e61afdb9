"""The fast path (vits_decoder.fast) matches the plain reference (polyphase and compiled activations,
per-tap convolutions, time tiles, folded weight norm, banded attention)."""
import os

import pytest
import torch
from omegaconf import OmegaConf

from vits.models import SynthesizerInfer, SynthesizerTrn
from vits_decoder.alias import SnakeAlias
from vits_decoder.fast import accelerate, fastconv, fused, polyphase, tiled

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


def fast_copy(act, compiled=True):
    """An accelerated copy of a SnakeAlias (the plain one stays for comparison)."""
    other = SnakeAlias(act.act.alpha.numel(), kernel_size=act.upsample.filter.numel())
    other.load_state_dict(act.state_dict())
    return accelerate(other, "cpu", compiled=compiled)


@pytest.fixture(params=["fused", "polyphase"])
def fast_form(request, monkeypatch):
    """Which no-autograd fast activation runs: the compiled one (fused.py) or the torch matrix form
    (polyphase.py, what runs without numba); yields the `compiled` argument of accelerate and
    asserts afterwards that the named one ran."""
    calls = {"fused": 0}
    real = fused.snake_alias_fused

    def counting(*args):
        calls["fused"] += 1
        return real(*args)

    monkeypatch.setattr(fused, "snake_alias_fused", counting)
    yield request.param == "fused"
    assert (calls["fused"] > 0) == (request.param == "fused")


@pytest.mark.parametrize("batch,channels,length", [
    (1, 3, 1), (2, 4, 2), (1, 5, 7), (2, 3, polyphase.BLOCK - 1), (1, 3, polyphase.BLOCK),
    (1, 3, polyphase.BLOCK + 1), (3, 6, 257)])
def test_fast_activation_equals_plain_including_edges(fast_form, batch, channels, length):
    act = random_snake(channels, seed=length)
    x = 2.0 * torch.randn(batch, channels, length)
    with torch.no_grad():
        plain = act(x)
        fast = fast_copy(act, fast_form)(x)
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
        fast_act = fast_copy(act)
        assert isinstance(fast_act, fused.CompiledSnake) and fused.kernel() is not None
        fast = fast_act(x)
    plain_error = (plain - exact).abs().amax(dim=(0, 2))
    fast_error = (fast - exact).abs().amax(dim=(0, 2))
    assert plain_error[-1] > 2e-5  # the largest arguments are in the test
    assert (fast_error <= 2 * plain_error + 2e-6).all(), (fast_error, plain_error)


def test_fused_activation_splits_rows_over_threads_keeping_each_channel(monkeypatch):
    """Outside the decoder's tiles the rows go to two threads; a split inside a batch item must
    keep every row on its own channel's Snake parameters."""
    act = random_snake(5, seed=12)
    x = torch.randn(1, 5, 20000)  # 5 rows -> threads take rows 0-1 and 2-4
    jobs = []
    real_map = fused.map_single_threaded
    monkeypatch.setattr(fused, "map_single_threaded", lambda fns, workers: jobs.extend(fns) or real_map(fns, workers))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():
            fast = fast_copy(act)(x)
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        plain = act(x)
    assert len(jobs) == 2
    assert torch.allclose(fast, plain, atol=2e-6), (fast - plain).abs().max()


def test_compiled_false_runs_the_torch_form(monkeypatch):
    calls = []
    monkeypatch.setattr(fused, "snake_alias_fused", lambda *a: calls.append(1))
    act = random_snake(3, seed=14)
    x = torch.randn(1, 3, 50)
    with torch.no_grad():
        off = fast_copy(act, compiled=False)(x)
        assert not calls
        fast_copy(act)(x)
    assert calls == [1]
    with torch.no_grad():
        assert torch.allclose(off, act(x), atol=2e-6)


def test_without_numba_the_torch_form_runs_with_a_warning(monkeypatch):
    import sys

    monkeypatch.setattr(fused, "_kernel", {})
    monkeypatch.setitem(sys.modules, "vits_decoder.fast.snake_kernel", None)  # import fails
    act = random_snake(3, seed=13)
    x = torch.randn(1, 3, 100)
    with torch.no_grad():
        plain = act(x)
        with pytest.warns(UserWarning, match="pip install numba"):
            fast = fast_copy(act)(x)
    assert fused._kernel == {"rows": None}
    assert torch.allclose(fast, plain, atol=2e-6)


@pytest.mark.parametrize("chunk_rows", [1, 2, 7])
def test_polyphase_activation_chunk_boundaries(monkeypatch, chunk_rows):
    monkeypatch.setattr(polyphase, "CHUNK_ROWS", chunk_rows)
    act = random_snake(3, seed=9)
    x = torch.randn(2, 3, 3 * polyphase.BLOCK + 5)
    with torch.no_grad():
        plain = act(x)
        fast = fast_copy(act, compiled=False)(x)
    assert torch.allclose(fast, plain, atol=2e-6), (fast - plain).abs().max()


def test_polyphase_activation_gradients_equal_plain():
    plain = random_snake(4, seed=1)
    x = torch.randn(2, 4, 50)
    grads = []
    for act in (plain, fast_copy(plain, compiled=False)):
        xi = x.clone().requires_grad_(True)
        act(xi).sin().sum().backward()
        grads.append([xi.grad.clone(), act.act.alpha.grad.clone(), act.act.beta.grad.clone()])
    for plain, fast in zip(*grads):
        assert torch.allclose(plain, fast, atol=1e-5), (plain - fast).abs().max()


@pytest.mark.parametrize("batch,channels,length", [(1, 3, 1), (2, 4, 2), (1, 5, 7), (3, 6, 257), (2, 3, 40000)])
def test_compiled_activation_gradients_equal_plain(batch, channels, length):
    """The compiled form's own backward (training on a CPU): gradients of x, alpha and beta equal
    the plain path's autograd, edges included; the last shape splits its rows over threads."""
    plain = random_snake(channels, seed=length)
    fast = fast_copy(plain)
    x = 2.0 * torch.randn(batch, channels, length)
    grads = []
    for act in (plain, fast):
        xi = x.clone().requires_grad_(True)
        y = act(xi)
        (y.sin() * torch.linspace(-1.0, 2.0, length)).sum().backward()
        grads.append([y.detach(), xi.grad, act.act.alpha.grad, act.act.beta.grad])
    assert type(y.grad_fn).__name__ == "SnakeFunctionBackward" and fast.act.alpha.grad.abs().min() > 0
    for ref, got in zip(*grads):
        scale = ref.abs().max()
        assert (got - ref).abs().max() <= 1e-5 * max(1.0, scale), ((got - ref).abs().max(), scale)


def test_fast_constants_follow_new_weights_and_dtypes(fast_form):
    act = fast_copy(random_snake(3, seed=2), fast_form)
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


def test_other_filter_sizes_stay_plain():
    act = accelerate(SnakeAlias(2, kernel_size=8), "cpu")
    assert type(act) is SnakeAlias and not polyphase.suits(act)


def test_tiny_fast_path_matches_plain():
    hp = load(("tests", "tiny.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    state = nudged_state(base, seed=0, spread=0.05)
    plain = SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval()
    fast = accelerate(SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval(), "cpu")
    assert fast.folded and isinstance(fast.dec, tiled.TiledGenerator)
    assert isinstance(fast.dec.resblocks[0].activations[0], fused.CompiledSnake)
    assert not plain.folded and type(plain.dec.resblocks[0].activations[0]) is SnakeAlias
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

    # weight norm folded into the plain modules (what a GPU runs besides the attention) too
    folded = accelerate(SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval(), "cuda")
    assert folded.folded and type(folded.dec.resblocks[0].activations[0]) is SnakeAlias
    c = folded.inference(ppg, vec, f0, spk, lengths, source, seed=2)
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
    for accelerated in (False, True):
        if accelerated:
            accelerate(net, "cpu", training=True)
            assert isinstance(net.dec.resblocks[0].activations[0], polyphase.PolyphaseSnake)
            assert "dec.ups.0.weight_g" in net.state_dict()  # weight norm kept for training
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
    plain = SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval()
    fast = accelerate(SynthesizerInfer(*sizes(hp), hp).load_exported(state).eval(), "cpu")
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
    monkeypatch.setattr(fastconv, "TILE_ELEMENTS", tile_elements)  # 1: 256-sample tiles

    torch.manual_seed(kernel)
    conv = torch.nn.Conv1d(channels, channels + 3, kernel, dilation=dilation, bias=bias,
                           padding=(kernel * dilation - dilation) // 2)
    x = torch.randn(2, channels, 601)
    calls = []
    monkeypatch.setattr(fastconv, "conv1d_by_taps", lambda c, v, real=fastconv.conv1d_by_taps: calls.append(1) or real(c, v))
    with torch.no_grad():
        assert fastconv.suits(conv)
        ref = conv(x)
        out = fastconv.conv1d_by_taps(conv, x)
        assert out.shape == ref.shape == (2, channels + 3, 601)
        assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()
        conv.__class__ = fastconv.TapConv1d
        conv.weight.mul_(2.0)  # the cached tap weights follow an in-place change
        assert torch.allclose(conv(x), torch.nn.Conv1d.forward(conv, x), atol=1e-5)
    assert len(calls) == 2
    conv(x).sum().backward()  # autograd on: the plain convolution runs
    assert len(calls) == 2 and conv.weight.grad is not None
    assert not fastconv.suits(torch.nn.Conv1d(8, 8, 3, padding=1))  # too narrow to pay off
    assert not fastconv.suits(torch.nn.Conv1d(80, 80, 3, padding=1))  # oneDNN is faster there


@pytest.mark.parametrize("length", [1, 7, 30])
def test_per_tap_convolution_on_inputs_shorter_than_its_reach(length):
    """Taps whose whole window falls in the padding add nothing; the centre tap still covers all."""
    torch.manual_seed(length)
    conv = torch.nn.Conv1d(20, 20, 11, dilation=5, padding=25)
    x = torch.randn(1, 20, length)
    with torch.no_grad():
        assert fastconv.suits(conv)
        assert torch.allclose(fastconv.conv1d_by_taps(conv, x), conv(x), atol=1e-5)
        assert not fastconv.suits(torch.nn.Conv1d(20, 20, 3, padding=0))  # not 'same': oneDNN runs it


def test_tracing_records_the_plain_path_that_works_at_any_length():
    act = fast_copy(random_snake(4, seed=11))
    with torch.no_grad():
        traced = torch.jit.trace(act, torch.randn(1, 4, 40), check_trace=False)
        x = torch.randn(1, 4, 111)  # another length than traced
        assert torch.allclose(traced(x), act(x), atol=2e-6)



def tiny_fast_decoder(seed=3):
    hp = load(("tests", "tiny.yaml"))
    base = SynthesizerInfer(*sizes(hp), hp)
    model = SynthesizerInfer(*sizes(hp), hp).load_exported(nudged_state(base, seed=seed, spread=0.05)).eval()
    return hp, accelerate(model, "cpu").dec


def test_tiled_decoder_matches_whole_and_needs_its_halo(monkeypatch):
    """The decoder cut into overlapping time tiles (run on two threads) gives the untiled output;
    cutting the computed halo short breaks the equality, so the halo bookkeeping is what holds it."""
    hp, dec = tiny_fast_decoder()
    assert isinstance(dec, tiled.TiledGenerator)
    gen = torch.Generator().manual_seed(6)
    frames = 37
    x = torch.randn(2, hp.gen.upsample_input, frames, generator=gen)
    spk = torch.randn(2, hp.vits.spk_dim, generator=gen)
    source = 0.1 * torch.randn(2, 1, frames * dec.hop, generator=gen)
    with torch.inference_mode():
        whole = dec.synthesise(spk, x, source)
        assert whole.abs().max() > 1e-3
        for tile in (5, 11, 37):
            out = dec.inference(spk, x, source, workers=2, tile_frames=tile)
            assert out.shape == whole.shape
            assert (out - whole).abs().max() < 1e-5, tile
        assert (dec.inference(spk, x, source) - whole).abs().max() < 1e-5
        monkeypatch.setattr(tiled, "stage_halos", lambda g, real=tiled.stage_halos: (0, real(g)[1]))
        broken = dec.inference(spk, x, source, workers=2, tile_frames=5)
        assert (broken - whole).abs().max() > 1e-3


def test_tiled_decoder_takes_a_speaker_vector_per_frame():
    """A timbre that changes over time (--spk-mix) reaches the decoder as [B, T, spk]: each tile
    gets its own frames' vectors, and the joined output equals the untiled one."""
    hp, dec = tiny_fast_decoder()
    gen = torch.Generator().manual_seed(8)
    frames = 37
    x = torch.randn(1, hp.gen.upsample_input, frames, generator=gen)
    spk = torch.randn(1, frames, hp.vits.spk_dim, generator=gen)
    source = 0.1 * torch.randn(1, 1, frames * dec.hop, generator=gen)
    with torch.inference_mode():
        whole = dec.synthesise(spk, x, source)
        out = dec.inference(spk, x, source, workers=2, tile_frames=5)
    assert out.shape == whole.shape
    assert (out - whole).abs().max() < 1e-5
