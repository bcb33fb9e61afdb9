import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common.atomic import save_npy
from svc.retrieval import (Codebook, ContentRetrieval, FeatureIndex, IndexNotFoundError, RetrievalError,
                           default_index_paths, frames_path_for, write_index)
from svc.retrieval_build import build_singer_indexes, train_codebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PPG_DIM = 24
SINGERS = ("alto", "bass")


def make_dataset(root, rng, files_per_singer=3):
    """data_svc-like folder: hubert/<spk>/*.vec.npy [T, 256] and whisper/<spk>/*.ppg.npy [T, PPG_DIM]."""
    for singer in SINGERS:
        for i in range(files_per_singer):
            frames = int(rng.integers(20, 40))
            for kind, suffix, dim in (("hubert", ".vec.npy", 256), ("whisper", ".ppg.npy", PPG_DIM)):
                folder = root / kind / singer
                folder.mkdir(parents=True, exist_ok=True)
                np.save(folder / f"song{i}{suffix}", rng.standard_normal((frames, dim)).astype(np.float32))
    return root


def brute_force_neighbour_mean(train, queries, k):
    dist = ((queries[:, None, :].astype(np.float64) - train[None, :, :]) ** 2).sum(-1)  # [T, N]
    ids = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return train[ids].mean(axis=1), ids


@pytest.fixture
def toy_index(tmp_path):
    rng = np.random.default_rng(1)
    train = rng.standard_normal((200, 8)).astype(np.float32)
    path = write_index(tmp_path / "indexes" / "toy" / "hubert.index", train, "hubert")
    return path, train


def test_build_dataset_indexes(tmp_path):
    data = make_dataset(tmp_path / "data_svc", np.random.default_rng(0))
    report = build_singer_indexes(data, backend="sklearn")
    assert report.done == 4 and not report.failed
    for singer in SINGERS:
        hubert_path, whisper_path = default_index_paths(data, singer)
        for path, dim, suffix in ((hubert_path, 256, ".vec.npy"), (whisper_path, PPG_DIM, ".ppg.npy")):
            files = sorted((data / os.path.basename(path).split(".")[0] / singer).glob(f"*{suffix}"))
            expected = np.concatenate([np.load(f) for f in files])
            index = FeatureIndex.load(path, backend="sklearn")
            assert index.dim == dim
            np.testing.assert_array_equal(index.frames, expected)
            manifest = json.loads(open(path).read())
            assert manifest["singer"] == singer and manifest["frames"] == len(expected)
    again = build_singer_indexes(data, backend="sklearn")
    assert again.done == 0 and again.skipped_existing == 4


def test_build_skips_bad_files_and_reports_them(tmp_path):
    data = make_dataset(tmp_path / "data_svc", np.random.default_rng(0))
    np.save(data / "hubert" / "alto" / "broken.vec.npy", np.zeros((5, 128), np.float32))
    (data / "whisper" / "alto" / "junk.ppg.npy").write_bytes(b"not numpy")
    report = build_singer_indexes(data, singers=["alto"], backend="sklearn")
    failed = {os.path.basename(path): reason for path, reason in report.failed}
    assert set(failed) == {"broken.vec.npy", "junk.ppg.npy"}
    assert "128-wide" in failed["broken.vec.npy"]
    assert FeatureIndex.load(default_index_paths(data, "alto")[0], backend="sklearn").dim == 256
    assert not os.path.exists(default_index_paths(data, "bass")[0])


def test_unknown_singer_is_a_clear_error(tmp_path):
    data = make_dataset(tmp_path / "data_svc", np.random.default_rng(0))
    with pytest.raises(RetrievalError, match="tenor.*Known singers: alto, bass"):
        build_singer_indexes(data, singers=["tenor"])


def test_ratio_zero_returns_input_unchanged(toy_index):
    path, _ = toy_index
    index = FeatureIndex.load(path, backend="sklearn")
    features = np.random.default_rng(2).standard_normal((30, 8)).astype(np.float32)
    features[3, 2] = -0.0
    out = index.blend(features, ratio=0.0, k=3)
    assert out is features
    assert out.tobytes() == features.tobytes()


@pytest.mark.parametrize("k", [1, 3, 7])
def test_ratio_one_gives_mean_of_k_nearest_training_frames(toy_index, k):
    path, train = toy_index
    index = FeatureIndex.load(path, backend="sklearn")
    features = np.random.default_rng(3).standard_normal((50, 8)).astype(np.float32)
    expected, ids = brute_force_neighbour_mean(train, features, k)
    np.testing.assert_array_equal(np.sort(index.nearest_ids(features, k), axis=1), np.sort(ids, axis=1))
    np.testing.assert_allclose(index.blend(features, ratio=1.0, k=k), expected, rtol=1e-6, atol=1e-6)


def test_partial_ratio_mixes_own_and_retrieved(toy_index, monkeypatch):
    path, train = toy_index
    monkeypatch.setattr("svc.retrieval.QUERY_BATCH", 7)  # several search batches, ragged last one
    index = FeatureIndex.load(path, backend="sklearn")
    features = np.random.default_rng(4).standard_normal((40, 8)).astype(np.float32)
    retrieved, _ = brute_force_neighbour_mean(train, features, 3)
    out = index.blend(features, ratio=0.25, k=3)
    assert out.dtype == np.float32 and out.shape == features.shape
    np.testing.assert_allclose(out, 0.75 * features + 0.25 * retrieved, rtol=1e-5, atol=1e-6)


def test_torch_tensor_in_tensor_out(toy_index):
    torch = pytest.importorskip("torch")
    path, _ = toy_index
    index = FeatureIndex.load(path, backend="sklearn")
    features = torch.randn(10, 8)
    out = index.blend(features, ratio=0.5, k=2)
    assert isinstance(out, torch.Tensor) and out.shape == features.shape
    np.testing.assert_allclose(out.numpy(), index.blend(features.numpy(), ratio=0.5, k=2), rtol=1e-6)


@pytest.mark.parametrize("ratio,k,message", [(-0.1, 3, "outside"), (1.5, 3, "outside"), ("0.5", 3, "number"),
                                             (0.5, 0, ">= 1"), (0.5, 2.0, ">= 1")])
def test_bad_ratio_or_k_is_a_clear_error(toy_index, ratio, k, message):
    index = FeatureIndex.load(toy_index[0], backend="sklearn")
    with pytest.raises(RetrievalError, match=message):
        index.blend(np.zeros((4, 8), np.float32), ratio=ratio, k=k)


def test_missing_index_says_how_to_build_it(tmp_path):
    path = default_index_paths(tmp_path / "data_svc", "alto")[1]
    with pytest.raises(IndexNotFoundError, match=r"python svc_train_retrieval.py -s alto") as err:
        FeatureIndex.load(path)
    assert path in str(err.value) and isinstance(err.value, FileNotFoundError)


def test_missing_frames_file_is_a_clear_error(toy_index):
    path, _ = toy_index
    os.remove(frames_path_for(path))
    with pytest.raises(IndexNotFoundError, match="frames file.*missing.*--force"):
        FeatureIndex.load(path, backend="sklearn")


def test_width_mismatch_names_index_and_fix(toy_index):
    path, _ = toy_index
    index = FeatureIndex.load(path, backend="sklearn")
    with pytest.raises(RetrievalError, match="8-wide.*12-wide") as err:
        index.blend(np.zeros((5, 12), np.float32), ratio=0.5)
    assert str(path) in str(err.value) and "svc_train_retrieval.py -s toy --force" in str(err.value)


def test_float16_storage_roundtrip(tmp_path):
    train = np.random.default_rng(5).standard_normal((50, 6)).astype(np.float32)
    path = write_index(tmp_path / "w.index", train, "whisper", dtype="float16")
    assert np.load(frames_path_for(path)).dtype == np.float16
    index = FeatureIndex.load(path, backend="sklearn")
    assert index.frames.dtype == np.float32
    np.testing.assert_array_equal(index.frames, train.astype(np.float16).astype(np.float32))


def test_kmeans_codebook_builds_and_blends(tmp_path):
    rng = np.random.default_rng(6)
    centres_true = rng.standard_normal((4, 5)).astype(np.float32) * 10
    frames = (centres_true[rng.integers(0, 4, 400)] + 0.01 * rng.standard_normal((400, 5))).astype(np.float32)
    centres = train_codebook(frames, size=4)
    assert centres.shape == (4, 5)
    assert train_codebook(frames[:3], size=2048).shape == (1, 5)  # far fewer frames than the requested size
    path = tmp_path / "hubert.codebook.npy"
    save_npy(path, centres)
    codebook = Codebook.load(path, backend="sklearn")
    queries = frames[:20]
    nearest = centres[np.argmin(((queries[:, None] - centres[None]) ** 2).sum(-1), axis=1)]
    np.testing.assert_allclose(codebook.blend(queries, ratio=1.0), nearest, rtol=1e-6)
    np.testing.assert_allclose(codebook.blend(queries, ratio=0.5), 0.5 * queries + 0.5 * nearest, rtol=1e-5, atol=1e-6)
    # each learned centre sits on one of the true clusters
    assert np.abs(np.sort(centres, axis=0) - np.sort(centres_true, axis=0)).max() < 0.1
    with pytest.raises(IndexNotFoundError, match="--kmeans"):
        Codebook.load(tmp_path / "none.codebook.npy")


def test_codebook_never_has_more_centres_than_a_tenth_of_the_frames(tmp_path, capsys):
    frames = np.random.default_rng(11).standard_normal((1160, 6)).astype(np.float32)
    centres = train_codebook(frames, size=2048, progress=True, desc="alto hubert k-means")
    assert centres.shape == (116, 6)  # not 1160 centres for 1160 frames
    assert len({tuple(c) for c in centres}) == 116 and np.all(np.isfinite(centres))
    bar = capsys.readouterr().err
    assert "alto hubert k-means" in bar and "100%" in bar  # the bar counts the k-means batches


def test_build_summary_lists_what_was_written(tmp_path):
    rng = np.random.default_rng(12)
    for i in range(4):
        for kind, suffix, dim in (("hubert", ".vec.npy", 256), ("whisper", ".ppg.npy", PPG_DIM)):
            folder = tmp_path / "data_svc" / kind / "alto"
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"s{i}{suffix}", rng.standard_normal((290, dim)).astype(np.float32))
    report = build_singer_indexes(tmp_path / "data_svc", backend="sklearn", kmeans=True, max_frames=1000,
                                  progress=False)
    text = report.summary()
    folder = os.path.join(str(tmp_path / "data_svc"), "indexes", "alto")
    assert f"wrote {os.path.join(folder, 'hubert.index')}: 1000 frames x 256 (float32, sampled from 1160)" in text
    assert (f"wrote {os.path.join(folder, 'whisper.codebook.npy')}: k-means codebook, 116 centres from 1160 "
            f"frames; --codebook-size 2048 capped at one centre per 10 frames") in text
    assert np.load(os.path.join(folder, "whisper.codebook.npy")).shape == (116, PPG_DIM)


def test_content_retrieval_wires_both_indexes(tmp_path):
    data = make_dataset(tmp_path / "data_svc", np.random.default_rng(7))
    build_singer_indexes(data, singers=["bass"], backend="sklearn", kmeans=True, codebook_size=4)
    hubert_path, whisper_path = default_index_paths(data, "bass")
    retrieval = ContentRetrieval.from_paths(hubert_path, whisper_path, ratio=1.0, k=2, backend="sklearn")
    rng = np.random.default_rng(8)
    ppg, vec = rng.standard_normal((15, PPG_DIM)).astype(np.float32), rng.standard_normal((15, 256)).astype(np.float32)
    new_ppg, new_vec = retrieval(ppg, vec)
    np.testing.assert_allclose(new_ppg, brute_force_neighbour_mean(np.load(frames_path_for(whisper_path)), ppg, 2)[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_vec, brute_force_neighbour_mean(np.load(frames_path_for(hubert_path)), vec, 2)[0],
                               rtol=1e-5, atol=1e-6)
    only_ppg = ContentRetrieval.from_paths(None, whisper_path, ratio=0.5, backend="sklearn")
    assert only_ppg(ppg, vec)[1] is vec
    cluster = ContentRetrieval.from_paths(*default_index_paths(data, "bass", ".codebook.npy"), ratio=1.0, k=1,
                                          backend="sklearn")
    assert cluster.hubert_index.size == 4 and cluster(ppg, vec)[0].shape == ppg.shape


def test_faiss_and_sklearn_agree(toy_index, tmp_path):
    faiss = pytest.importorskip("faiss")
    path, train = toy_index
    features = np.random.default_rng(9).standard_normal((300, 8)).astype(np.float32)
    with_faiss = FeatureIndex.load(path, backend="faiss")
    with_sklearn = FeatureIndex.load(path, backend="sklearn")
    assert with_faiss.backend == "faiss" and with_sklearn.backend == "sklearn"
    np.testing.assert_array_equal(with_faiss.nearest_ids(features, 5), with_sklearn.nearest_ids(features, 5))
    np.testing.assert_allclose(with_faiss.blend(features, 0.7, 5), with_sklearn.blend(features, 0.7, 5), rtol=1e-6)
    # a binary faiss IVF index (the upstream so-vits-svc-5.0 format) loads and searches exactly over its vectors
    quantizer = faiss.IndexFlatL2(8)
    ivf = faiss.IndexIVFFlat(quantizer, 8, 4)
    ivf.train(train)
    ivf.add(train)
    upstream = str(tmp_path / "upstream.index")
    faiss.write_index(ivf, upstream)
    loaded = FeatureIndex.load(upstream, backend="sklearn")
    np.testing.assert_array_equal(np.sort(loaded.frames, axis=0), np.sort(train, axis=0))
    np.testing.assert_allclose(loaded.blend(features, 1.0, 3), brute_force_neighbour_mean(train, features, 3)[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_cli_builds_with_progress_bar_then_skips(tmp_path):
    data = make_dataset(tmp_path / "data_svc", np.random.default_rng(10))
    cmd = [sys.executable, os.path.join(ROOT, "svc_train_retrieval.py"), "--data", str(data), "-s", "alto",
           "--backend", "sklearn", "--kmeans", "--codebook-size", "4"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "alto hubert" in first.stderr and "100%" in first.stderr
    assert "alto hubert k-means" in first.stderr and "alto whisper k-means" in first.stderr
    assert "2 written, 0 already done, 0 skipped" in first.stderr
    assert "hubert.codebook.npy: k-means codebook, 4 centres from" in first.stderr
    for path in default_index_paths(data, "alto") + default_index_paths(data, "alto", ".codebook.npy"):
        assert os.path.isfile(path)
    assert not os.path.exists(os.path.join(data, "indexes", "bass"))
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "0 written, 2 already done" in second.stderr and "100%" not in second.stderr
    missing = subprocess.run(cmd[:2] + ["--data", str(tmp_path / "nothing")], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=120)
    assert missing.returncode != 0 and "Run the preprocessing steps first" in missing.stderr
