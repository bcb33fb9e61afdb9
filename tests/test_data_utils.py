"""Training dataset, collate and bucket sampler (vits/data_utils.py) on small synthetic files."""
import os

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from common.atomic import save_npy
from vits.data_utils import (DatasetError, DistributedBucketSampler, SvcDataset, collate_svc, read_file_list)
from tests.train_synthetic import make_synthetic_dataset, write_item


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, hp):
    root = str(tmp_path_factory.mktemp("data"))
    make_synthetic_dataset(root, hp, items_per_speaker=2, speakers=2, seconds=(1.0, 1.5))
    return root


def _lines(root):
    return read_file_list(os.path.join(root, "files", "train.txt"))


def _write_list(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


def _line(entry):
    return "|".join(entry[:6])


def test_item_shapes_are_aligned_at_100hz(hp, dataset_dir):
    ds = SvcDataset(os.path.join(dataset_dir, "files", "train.txt"), hp, random_crop=False)
    assert len(ds) == 4 and ds.dropped == 0
    spec, wav, ppg, vec, pit, spk = ds[0]
    frames = spec.shape[1]
    assert spec.shape[0] == 513
    assert wav.shape == (1, frames * 320)
    assert ppg.shape == (frames, hp.vits.ppg_dim) and vec.shape == (frames, hp.vits.vec_dim)
    assert pit.shape == (frames,) and spk.shape == (hp.vits.spk_dim,)
    # PPG rows are repeated x2: frames 2k and 2k+1 carry the same 50 Hz vector
    raw = np.load(ds.items[0].whisper)
    assert torch.equal(ppg[0], ppg[1]) and torch.allclose(ppg[2], torch.from_numpy(raw[1]))
    assert 98 <= frames <= 100  # 1.0 s item, trimmed to the shortest feature


def test_long_items_are_cropped_and_short_ones_dropped(hp, tmp_path):
    hp = OmegaConf.merge(hp, {"train": {"max_seconds": 0.6, "min_seconds": 0.3}})
    rng = np.random.default_rng(1)
    spk = rng.standard_normal(256).astype(np.float32)
    long_line = write_item(str(tmp_path), "a", "long", 1.0, 200.0, spk, hp, rng)
    short_line = write_item(str(tmp_path), "a", "short", 0.2, 200.0, spk, hp, rng)
    ds = SvcDataset(_write_list(tmp_path / "list.txt", [long_line, short_line]), hp, random_crop=True)
    assert len(ds) == 1 and ds.dropped == 1 and ds.lengths == [60]
    starts = set()
    for _ in range(6):
        spec, wav, _, _, pit, _ = ds[0]
        assert spec.shape[1] == 60 and wav.shape[1] == 60 * 320 and pit.shape[0] == 60
        full = torch.load(ds.items[0].spec, weights_only=True)
        starts.add(next(s for s in range(full.shape[1] - 59) if torch.equal(full[:, s:s + 60], spec)))
    assert len(starts) > 1  # random windows


def test_missing_feature_file_names_the_file(hp, dataset_dir, tmp_path):
    entry = _lines(dataset_dir)[0]
    bad = _line(entry).replace(entry.hubert, str(tmp_path / "nope.vec.npy"))
    with pytest.raises(DatasetError, match="nope.vec.npy"):
        SvcDataset(_write_list(tmp_path / "list.txt", [bad]), hp)


def test_wrong_feature_width_names_the_file(hp, dataset_dir, tmp_path):
    entry = _lines(dataset_dir)[0]
    wrong = str(tmp_path / "wrong.ppg.npy")
    save_npy(wrong, np.zeros((50, 7), np.float32))
    ds = SvcDataset(_write_list(tmp_path / "list.txt", [_line(entry).replace(entry.whisper, wrong)]), hp)
    with pytest.raises(DatasetError, match=r"wrong\.ppg\.npy.*ppg_dim"):
        ds[0]


def test_malformed_line_names_list_and_line(tmp_path):
    path = _write_list(tmp_path / "list.txt", ["a|b|c"])
    with pytest.raises(DatasetError, match=r"list\.txt:1"):
        read_file_list(path)


def test_collate_pads_and_reports_lengths(hp, dataset_dir):
    ds = SvcDataset(os.path.join(dataset_dir, "files", "train.txt"), hp, random_crop=False)
    items = [ds[0], ds[1]]  # 1.0 s and 1.5 s
    batch = collate_svc(items)
    longest = max(i[0].shape[1] for i in items)
    shortest = min(i[0].shape[1] for i in items)
    assert batch.spec.shape == (2, 513, longest) and batch.audio.shape == (2, 1, longest * 320)
    assert batch.ppg.shape == (2, longest, hp.vits.ppg_dim) and batch.pit.shape == (2, longest)
    assert batch.spec_lengths.tolist() == [longest, shortest]  # longest first
    assert batch.ppg_lengths.tolist() == batch.spec_lengths.tolist()
    assert batch.audio_lengths.tolist() == [longest * 320, shortest * 320]
    assert batch.spec[1, :, shortest:].abs().sum() == 0 and batch.audio[1, :, shortest * 320:].abs().sum() == 0


def test_bucket_sampler_groups_lengths_and_shards_evenly():
    lengths = [60, 70, 80, 95, 150, 160, 170, 190, 250]
    shards = [DistributedBucketSampler(lengths, 2, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    for sampler in shards:
        sampler.set_epoch(1)
    batches = [list(s) for s in shards]
    assert len(batches[0]) == len(batches[1]) == len(shards[0])
    for rank_batches in batches:
        for batch in rank_batches:
            assert len(batch) == 2
            assert len({(lengths[i] - 1) // 100 for i in batch}) == 1  # one 1-second bucket per batch
    covered = {i for rank_batches in batches for b in rank_batches for i in b}
    assert covered == set(range(len(lengths)))
    again = DistributedBucketSampler(lengths, 2, num_replicas=2, rank=0, seed=3)
    again.set_epoch(1)
    assert list(again) == batches[0]  # a function of (seed, epoch)
    orders = set()
    for epoch in range(2, 8):
        again.set_epoch(epoch)
        orders.add(str(list(again)))
    assert len(orders) > 1
