"""ONNX export of the conversion generator (content encoder, inverse flow, NSF decoder), traced at
opset 17 with the frame and batch axes dynamic. The graph is deterministic: the NSF excitation
(`SynthesizerInfer.pitch2source`) and the prior noise are computed outside it and passed in.

Graph inputs (float32 unless noted), T frames at 100 Hz, hop = 320 samples at 32 kHz:
    ppg    [B, T, ppg_dim]   Whisper PPG, already repeated x2 to 100 Hz
    vec    [B, T, vec_dim]   HuBERT-Soft units, already repeated x2 to 100 Hz
    pit    [B, T]            F0 in Hz (0 = unvoiced), for the coarse pitch embedding
    spk    [B, spk_dim]      speaker d-vector
    noise  [B, inter, T]     prior noise: zeros = prior mean, N(0, 1) * noise_scale = a sample
    source [B, 1, T * hop]   NSF excitation from SynthesizerInfer.pitch2source(pit)
Graph output:
    audio  [B, 1, T * hop]   waveform in [-1, 1]
"""
import copy
import dataclasses
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common.atomic import atomic_path
from svc.model_files import load_svc_model
from vits.models import f0_to_coarse

OPSET = 17
EXPORTER = "torch.onnx.export(dynamo=False) (TorchScript tracer)"
INPUT_NAMES = ("ppg", "vec", "pit", "spk", "noise", "source")
OUTPUT_NAMES = ("audio",)
TOLERANCE = 1e-3          # max |onnxruntime - PyTorch| accepted by the check
TRACE_FRAMES = 16         # length of the example inputs the graph is traced with
CHECK_FRAMES = (16, 37)   # two lengths, so the check proves the frame axis is dynamic


class OnnxUnavailableError(RuntimeError):
    """onnx or onnxruntime is not installed."""


class OnnxMismatchError(RuntimeError):
    """onnxruntime's output differs from PyTorch's beyond TOLERANCE."""


class OnnxGenerator(nn.Module):
    """Export-time view of a SynthesizerInfer on full-length (unpadded) items with the prior noise as
    an input: the prior sample is m + noise * exp(logs), so no random op enters the graph."""

    def __init__(self, infer):
        super().__init__()
        self.infer = infer

    def forward(self, ppg, vec, pit, spk, noise, source):
        mask = torch.ones_like(pit).unsqueeze(1)  # [B, 1, T]: every frame of every item is valid
        m, logs, _ = self.infer.enc_p.prior(ppg, vec, f0_to_coarse(pit), mask)  # [B, inter, T] each
        z_p = m + noise * torch.exp(logs)
        z, _ = self.infer.flow(z_p, mask, g=spk, reverse=True)
        return self.infer.dec.inference(spk, z, source)


class TraceableSnakeAlias(nn.Module):
    """The plain path of a SnakeAlias (x2 up, Snake-beta, low-pass, x2 down) with its depthwise
    taps expanded to [C, 1, K] once. SnakeAlias expands them per call to x.size(1) channels,
    which the tracer records as a runtime shape, and the ONNX exporter refuses convolutions
    whose kernel shape it cannot see."""

    def __init__(self, alias):
        super().__init__()
        self.act, self.up, self.low = alias.act, alias.upsample, alias.downsample.lowpass
        self.channels = alias.act.alpha.numel()
        self.register_buffer("up_taps", self.up.filter.expand(self.channels, -1, -1).clone())
        self.register_buffer("down_taps", self.low.filter.expand(self.channels, -1, -1).clone())

    def forward(self, x):
        up, low = self.up, self.low
        # x [B, C, T] -> [B, C, T * ratio] (zero-stuffing transposed conv, x ratio gain)
        x = F.pad(x, (up.pad, up.pad), mode="replicate")
        x = up.ratio * F.conv_transpose1d(x, self.up_taps, stride=up.ratio, groups=self.channels)
        x = self.act(x[..., up.crop_left: x.size(-1) - up.crop_right])
        # [B, C, T * ratio] -> [B, C, T]
        x = F.pad(x, low.pad, mode="replicate")
        return F.conv1d(x, self.down_taps, stride=low.stride, groups=self.channels)


def traceable_copy(infer):
    """A deep copy of a (folded) SynthesizerInfer whose anti-aliased activations trace to ONNX."""
    from vits_decoder.alias import SnakeAlias

    infer = copy.deepcopy(infer)
    parents = [(p, n, c) for p in infer.modules() for n, c in p.named_children() if isinstance(c, SnakeAlias)]
    for parent, name, alias in parents:
        setattr(parent, name, TraceableSnakeAlias(alias))
    return infer


@dataclasses.dataclass
class OnnxExportReport:
    path: str
    checks: list  # (batch, frames, max |onnxruntime - PyTorch|) per checked input set

    def lines(self):
        out = [f"ONNX model written: {self.path} (opset {OPSET}, {EXPORTER})",
               f"inputs: {', '.join(INPUT_NAMES)}; output: {', '.join(OUTPUT_NAMES)}"]
        out += [f"onnxruntime vs PyTorch, batch {b}, {t} frames: max abs diff {d:.2e} (<= {TOLERANCE:g})"
                for b, t, d in self.checks]
        return out


def example_inputs(infer, hp, frames, batch=1, seed=0):
    """A reproducible input set in the graph's layout (source made by pitch2source)."""
    gen = torch.Generator().manual_seed(seed)
    v = hp.vits
    ppg = torch.randn(batch, frames, v.ppg_dim, generator=gen)
    vec = torch.randn(batch, frames, v.vec_dim, generator=gen)
    pit = 100.0 + 300.0 * torch.rand(batch, frames, generator=gen)
    pit[:, : max(1, frames // 8)] = 0.0  # an unvoiced stretch
    spk = torch.randn(batch, v.spk_dim, generator=gen)
    spk = spk / spk.norm(dim=1, keepdim=True)
    noise = 0.5 * torch.randn(batch, v.inter_channels, frames, generator=gen)
    device = next(infer.parameters()).device
    source = infer.pitch2source(pit.to(device), seed=seed).cpu().clone()
    return ppg, vec, pit, spk, noise, source


def trace_to_onnx(model, inputs, path):
    """Write `model` (an OnnxGenerator) traced on `inputs` to `path` (not atomic: a temp path)."""
    frames, samples = {0: "batch", 1: "frames"}, {0: "batch", 2: "samples"}
    axes = {"ppg": frames, "vec": frames, "pit": frames, "spk": {0: "batch"},
            "noise": {0: "batch", 2: "frames"}, "source": samples, "audio": samples}
    with warnings.catch_warnings():
        # shape arithmetic on traced sizes stays symbolic; the tracer warns about it regardless
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        with torch.no_grad():
            torch.onnx.export(model, inputs, path, dynamo=False, opset_version=OPSET,
                              input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                              dynamic_axes=axes, do_constant_folding=True)


def export_onnx(hp, checkpoint_path, onnx_path, check_frames=CHECK_FRAMES):
    """Export the generator of `checkpoint_path` (training or exported file) as ONNX, written atomically
    once onnx.checker accepts it and onnxruntime matches PyTorch within TOLERANCE at every length in
    `check_frames` (OnnxMismatchError if not)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        raise OnnxUnavailableError(
            f"ONNX export needs the optional packages onnx and onnxruntime ({e}). "
            f"Install them with: pip install onnx onnxruntime") from None
    infer = load_svc_model(hp, checkpoint_path)  # as conversion runs it, on the CPU
    reference = OnnxGenerator(infer).eval()  # the model conversion runs, the check's yardstick
    traced = OnnxGenerator(traceable_copy(infer)).eval()
    checks = []
    with atomic_path(onnx_path) as tmp:
        trace_to_onnx(traced, example_inputs(infer, hp, TRACE_FRAMES, seed=99), tmp)
        onnx.checker.check_model(tmp)
        session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        for seed, frames in enumerate(check_frames):
            inputs = example_inputs(infer, hp, frames, seed=seed)
            with torch.no_grad():
                expected = reference(*inputs).numpy()
            feeds = {name: t.numpy() for name, t in zip(INPUT_NAMES, inputs)}
            (got,) = session.run(list(OUTPUT_NAMES), feeds)
            if got.shape != expected.shape:
                raise OnnxMismatchError(f"ONNX export of {checkpoint_path}: onnxruntime returned audio {got.shape}, "
                                        f"PyTorch {expected.shape}; {onnx_path} was not written. Report this "
                                        f"with your torch/onnxruntime versions.")
            checks.append((inputs[0].size(0), frames, float(np.abs(got - expected).max())))
        worst = max(d for _, _, d in checks)
        if not worst <= TOLERANCE:
            raise OnnxMismatchError(
                f"ONNX export of {checkpoint_path}: onnxruntime differs from PyTorch by {worst:.3g} "
                f"(> {TOLERANCE:g}); {onnx_path} was not written. Report this with your torch/onnxruntime versions.")
    return OnnxExportReport(str(onnx_path), checks)
