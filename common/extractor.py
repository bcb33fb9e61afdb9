"""What the feature extractors share: weight lookup, 16 kHz input, chunking, frame fitting, one-file CLI."""
import argparse
import contextlib
import functools
import os
import warnings

import numpy as np
import torch

from common.audio import EXTRACT_RATE, load_audio
from common.batch import BatchReport, extract_files
from common.checkpoint import load_checkpoint
from common.cli import add_device_argument, report_errors
from common.device import pick_device
from common.paths import REPO_ROOT

FRAME_SAMPLES = 320  # one content frame (50 Hz) at 16 kHz


def resolve_weights(path):
    """A relative weight path is looked up in the working folder first, then in the repository."""
    path = os.fspath(path)
    if os.path.isabs(path) or os.path.exists(path):
        return path
    in_repo = os.path.join(REPO_ROOT, path)
    return in_repo if os.path.exists(in_repo) else path


def download_hint(path, weight):
    """The fix for a missing or broken weight file (a common.download.WeightFile): folder, source, flag."""
    folder = os.path.dirname(os.path.abspath(path))
    return (f"Put {os.path.basename(path)} into the folder {folder}: run `python svc_download.py --only "
            f"{weight.name}`; or download it by hand from {weight.urls[-1]} (page: {weight.page}); or pass "
            f"another file with the tool's checkpoint flag (--checkpoint, --whisper-checkpoint, "
            f"--hubert-checkpoint or --speaker-checkpoint; see --help).")


def load_weights(path, what, weight):
    """load_checkpoint with a message that says where the file goes and where to get it."""
    path = resolve_weights(path)
    return path, load_checkpoint(path, what=what, hint=download_hint(path, weight))


def strip_prefix(state_dict, prefix):
    """Drop `prefix` from every key that has it (e.g. 'module.' left by DataParallel)."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def chunk_spans(n_samples, chunk_samples):
    return [(s, min(s + chunk_samples, n_samples)) for s in range(0, n_samples, chunk_samples)]


def fit_frames(frames, n_frames):
    """Trim [T, C] to n_frames rows, or pad by repeating the last row (zeros when T == 0)."""
    if frames.shape[0] >= n_frames:
        return frames[:n_frames]
    if frames.shape[0] == 0:
        return np.zeros((n_frames, frames.shape[1]), dtype=frames.dtype)
    return np.concatenate([frames, np.repeat(frames[-1:], n_frames - frames.shape[0], axis=0)], axis=0)


def load_wav16k(path):
    """The input of every extractor: the file as 16 kHz mono (load_audio refuses under one frame)."""
    with warnings.catch_warnings():  # a fallback reader's warnings: the skip reason says what went wrong
        warnings.simplefilter("ignore")
        return load_audio(path, EXTRACT_RATE)


def cpu_has_bf16():
    """True when the CPU multiplies bfloat16 natively (AVX512-BF16, AMX); elsewhere bf16 is slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def half_precision(device, cpu_bf16=False):
    """fp16 autocast on CUDA; bf16 autocast on the CPU when `cpu_bf16` (the caller has checked
    cpu_has_bf16 once, when it chose); plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    if cpu_bf16 and device.type == "cpu":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class ChunkedExtractor:
    """Base of the content extractors: split audio into chunks, run `_run_chunk`, join, fit length.
    Subclasses set `chunk_seconds` and `self.dim`, and implement `_run_chunk(wav_chunk, generator)
    -> float32 [frames, dim]` (`generator`: the chunk's own from `_chunk_generators`, or None)."""

    chunk_seconds = 15

    def __init__(self, device="auto"):
        self.device = device if isinstance(device, torch.device) else pick_device(device)

    def _chunk_generators(self, count):
        """One random generator per chunk, seeded in chunk order (None: no noise is drawn)."""
        return [None] * count

    def chunk_jobs(self, wav16k):
        """(jobs, join): one independent zero-argument callable per chunk (any order, or several at once
        on other threads; each draws noise from its own generator), and join(results in job order)."""
        wav = np.asarray(wav16k.detach().cpu().numpy() if torch.is_tensor(wav16k) else wav16k, np.float32)
        if wav.ndim != 1:
            raise ValueError(f"expected mono audio of shape [samples], got shape {wav.shape}; "
                             f"load it with common.audio.load_audio(path, common.audio.EXTRACT_RATE)")
        if not np.all(np.isfinite(wav)):
            raise ValueError("the audio holds NaN or infinite samples")
        n_frames = len(wav) // FRAME_SAMPLES
        # a tail shorter than one frame adds nothing
        spans = [(start, end) for start, end in chunk_spans(len(wav), self.chunk_seconds * EXTRACT_RATE)
                 if (end - start) // FRAME_SAMPLES > 0]
        generators = self._chunk_generators(len(spans))

        def job(start, end, generator):
            return fit_frames(self._run_chunk(wav[start:end], generator), (end - start) // FRAME_SAMPLES)

        def join(parts):
            joined = np.concatenate(parts, axis=0) if parts else np.zeros((0, self.dim), np.float32)
            return np.ascontiguousarray(fit_frames(joined, n_frames), dtype=np.float32)

        return [functools.partial(job, start, end, g) for (start, end), g in zip(spans, generators)], join

    def __call__(self, wav16k):
        jobs, join = self.chunk_jobs(wav16k)
        return join([job() for job in jobs])


def run_one_file(load_model, wav, out, title, ndim, front=load_wav16k):
    """Extract `wav` into `out` (a single-file extractor CLI); return the exit status."""
    report = extract_files(load_model, [(wav, out)], BatchReport(title), front, ndim, skip_existing=False,
                           progress=False)
    report.print_summary()
    return 1 if report.failed else 0


def one_file_main(argv, description, out_flags, weights, load_model, title, ndim, front=load_wav16k, add_flags=None):
    """main() of the single-file extractor CLIs: -w in, `out_flags` out (e.g. ("-p", "--ppg")), --checkpoint
    (`weights`: (what, default path)), --device, `add_flags(parser)`; `load_model(args)` -> the extractor."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-w", "--wav", required=True, help="input audio file (any rate; resampled to 16 kHz)")
    parser.add_argument(*out_flags, dest="out", metavar=out_flags[-1][2:].upper(), required=True,
                         help=f"output .{out_flags[-1][2:]}.npy path")
    parser.add_argument("--checkpoint", default=weights[1], help=f"{weights[0]} weights (default {weights[1]})")
    add_device_argument(parser)
    if add_flags:
        add_flags(parser)
    args = parser.parse_args(argv)
    return report_errors(run_one_file, lambda: load_model(args), args.wav, args.out, title, ndim, front)
