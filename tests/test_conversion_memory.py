"""Out of GPU memory on a long song: the converter retries in shorter pieces with a note, and
gives one clear error when even the shortest pieces do not fit. Simulated on the CPU by a model
whose inference raises torch.OutOfMemoryError above a piece length."""
import numpy as np
import pytest
import torch

from svc.convert import MIN_CHUNK_SECONDS, Features, SvcConverter
from svc.settings import ConversionSettings as Settings
from tests.svc_fixtures import smooth_features


def limit_piece_frames(converter, limit, calls):
    real = converter.model.inference

    def inference(ppg, *args, **kwargs):
        calls.append(ppg.shape[1])
        if ppg.shape[1] > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(ppg, *args, **kwargs)

    converter.model.inference = inference


def test_out_of_memory_retries_in_halved_pieces(hp, model_files, capsys):
    frames = 1200  # 12 s at 100 Hz
    ppg, vec, spk = smooth_features(frames, seed=2)
    f0 = np.full(frames, 220.0, dtype=np.float32)
    calls = []
    converter = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=5, chunk_seconds=10.0,
                                                          overlap_seconds=1.0, progress=False))
    limit_piece_frames(converter, 300, calls)
    out = converter.convert(spk, given=Features(ppg, vec, f0))
    note = capsys.readouterr().err
    assert "out of cpu memory in 10.0 s pieces" in note and "in 5.0 s pieces" in note and "2.5 s pieces" in note
    assert converter.chunk_frames == 250  # 10 s -> 5 s -> 2.5 s, the first size that fits
    assert max(calls[-5:]) <= 300
    # the same as converting in those pieces from the start
    direct = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, seed=5, chunk_seconds=2.5,
                                                       overlap_seconds=converter.overlap_frames / 100, progress=False))
    expected = direct.convert(spk, given=Features(ppg, vec, f0))
    assert out.shape == expected.shape == (frames * 320,)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_out_of_memory_in_the_shortest_pieces_is_one_clear_error(hp, model_files):
    frames = 600
    ppg, vec, spk = smooth_features(frames, seed=3)
    f0 = np.full(frames, 220.0, dtype=np.float32)
    converter = SvcConverter(hp, model_files[0], Settings(device="cpu", no_noise=True, chunk_seconds=4.0,
                                                          progress=False))
    limit_piece_frames(converter, 10, [])
    with pytest.raises(RuntimeError, match=r"even in .* pieces.*--device cpu"):
        converter.convert(spk, given=Features(ppg, vec, f0))
    assert converter.chunk_frames * 320 / 32000 >= MIN_CHUNK_SECONDS


def test_half_precision_needs_cuda(hp, model_files):
    with pytest.raises(ValueError, match="needs a CUDA device.*--precision fp32"):
        SvcConverter(hp, model_files[0], Settings(device="cpu", precision="bf16", progress=False))
    with pytest.raises(ValueError, match="precision 'int8': choose one of"):
        Settings(device="cpu", precision="int8")
