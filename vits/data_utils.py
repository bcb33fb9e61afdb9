"""Training data: the `wave|spec|pitch|hubert|whisper|spk` list (formats: docs/ARCHITECTURE.md),
one dataset item per line, padding collate, a length-bucketed (optionally distributed) sampler.
Items are at 100 Hz (one frame = hop_length samples): the 50 Hz PPG and units are repeated x2.
"""
import collections
import math
import os
import random
import signal
from typing import NamedTuple

import numpy as np
import torch
import torch.utils.data
from torch.nn.utils.rnn import pad_sequence

from common.audio import AudioError, load_audio
from common.checkpoint import CheckpointError, load_checkpoint

FIELDS = ("wave", "spec", "pitch", "hubert", "whisper", "spk")
REGENERATE = "Re-run the preprocessing (prepare/preprocess_*.py) for it, or delete its line from the list."


class DatasetError(ValueError):
    """A training list or feature file that cannot be used; the message names the file and the fix."""


ListEntry = collections.namedtuple("ListEntry", (*FIELDS, "source"))  # source: "<list file>:<line number>"


def parse_list(path):
    """[(line number, ListEntry or the line's parts when they are not six '|'-separated paths)]."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            parts = [p.strip() for p in line.strip().split("|")]
            if parts != [""]:
                rows.append((number, ListEntry(*parts, source=f"{path}:{number}")
                             if len(parts) == len(FIELDS) else parts))
    return rows


def read_file_list(path):
    """Parse a `wave|spec|pitch|hubert|whisper|spk` list; raise DatasetError on a malformed line."""
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: training list not found. Write it with prepare/preprocess_train.py "
                           f"or point data.training_files / data.validation_files at it.")
    entries = []
    for number, entry in parse_list(path):
        if not isinstance(entry, ListEntry):
            raise DatasetError(f"{path}:{number}: expected {len(FIELDS)} '|'-separated paths "
                               f"({'|'.join(FIELDS)}), found {len(entry)}. Fix or delete the line.")
        entries.append(entry)
    if not entries:
        raise DatasetError(f"{path}: the list is empty. Run the preprocessing first.")
    return entries


def check_files_exist(entries):
    missing = [(e.source, name, getattr(e, name)) for e in entries for name in FIELDS
               if not os.path.isfile(getattr(e, name))]
    if missing:
        source, name, file = missing[0]
        raise DatasetError(f"{file}: {name} file not found (listed at {source}; {len(missing)} missing in all). "
                           + REGENERATE)


def _load_npy(path, what, mmap=False):
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as e:
        raise DatasetError(f"{path}: unreadable {what} file ({type(e).__name__}: {e}). " + REGENERATE) from None


# Largest magnitude each feature can hold when an extractor wrote it (generous bounds): a value
# beyond them (a PPG of 1e30) is a damaged file, and it would wreck training steps one by one.
MAX_MAGNITUDE = {"spec": 1e4,  # linear STFT magnitude of audio in [-1, 1]: at most sum(window) = 512
                 "pitch": 5e3,  # F0 in Hz (0 = unvoiced; the trackers stop near 2 kHz)
                 "hubert": 1e4, "whisper": 1e4,  # network outputs, in the tens at most
                 "spk": 1e2}  # d-vectors are unit length


def _require(cond, path, text):
    if not cond:
        raise DatasetError(f"{path}: {text}. " + REGENERATE)


def load_item(entry, hp):
    """Read and validate one list item -> (spec [513, N], wav [1, samples], ppg [2N', ppg_dim],
    vec [2N', vec_dim], pit [N], spk [spk_dim]) at their own lengths; DatasetError names the file."""
    try:
        wav = load_audio(entry.wave, int(hp.data.sampling_rate))
        spec = load_checkpoint(entry.spec, what="spectrogram file", hint=REGENERATE)
    except AudioError as e:
        raise DatasetError(f"{e} (listed at {entry.source})") from None
    except CheckpointError as e:
        raise DatasetError(str(e)) from None
    n_bins = int(hp.data.filter_length) // 2 + 1
    _require(torch.is_tensor(spec) and spec.dim() == 2 and spec.shape[0] == n_bins, entry.spec,
             f"spectrogram must be a float tensor [{n_bins}, N], found "
             f"{tuple(spec.shape) if torch.is_tensor(spec) else type(spec).__name__}")
    pit, vec, ppg, spk = (_load_npy(getattr(entry, name), what) for name, what in (
        ("pitch", "pitch"), ("hubert", "HuBERT units"), ("whisper", "Whisper PPG"), ("spk", "speaker vector"))
    )
    _require(pit.ndim == 1, entry.pitch, f"pitch must be [N], found shape {pit.shape}")
    for arr, path, width, key in ((vec, entry.hubert, hp.vits.vec_dim, "vits.vec_dim"),
                                  (ppg, entry.whisper, hp.vits.ppg_dim, "vits.ppg_dim")):
        _require(arr.ndim == 2 and arr.shape[1] == int(width), path,
                 f"expected [N, {width}] ({key}), found shape {arr.shape}")
    _require(spk.shape == (int(hp.vits.spk_dim),), entry.spk,
             f"speaker vector must be [{hp.vits.spk_dim}] (vits.spk_dim), found shape {spk.shape}")
    named = (("pitch", pit), ("hubert", vec), ("whisper", ppg), ("spk", spk), ("spec", spec.numpy()))
    for name, arr in named:
        _require(np.all(np.isfinite(arr)), getattr(entry, name), "holds NaN or infinite values")
    for name, arr in named:
        peak = float(np.abs(arr).max()) if arr.size else 0.0
        _require(peak <= MAX_MAGNITUDE[name], getattr(entry, name),
                 f"holds a value of magnitude {peak:.3g}, beyond what its extractor produces "
                 f"(<= {MAX_MAGNITUDE[name]:g}): the file is damaged")
    _require(float(pit.min(initial=0.0)) >= 0.0, entry.pitch, "holds negative F0 values")
    return (
        spec.float(),
        torch.from_numpy(wav).unsqueeze(0),
        torch.from_numpy(np.repeat(ppg.astype(np.float32), 2, axis=0)),  # 50 Hz -> 100 Hz
        torch.from_numpy(np.repeat(vec.astype(np.float32), 2, axis=0)),
        torch.from_numpy(pit.astype(np.float32)),
        torch.from_numpy(spk.astype(np.float32)),
    )


class SvcItem(tuple):
    """A dataset item (spec, wav, ppg, vec, pit, spk) knowing its wave file: a bad step names its files."""

    def __new__(cls, parts, name=None):  # name=None: unpickled in the main process, then `name` set
        item = super().__new__(cls, parts)
        item.name = name
        return item


class LoadFailure(NamedTuple):
    """A loader worker's stand-in for an item it could not load: the main process raises its message."""
    message: str


class SvcDataset(torch.utils.data.Dataset):
    """One item per list line, trimmed to T frames. Items under train.min_seconds (or one decoder
    segment) are dropped; longer ones cropped to train.max_seconds, at random when `random_crop`."""

    def __init__(self, list_path, hp, random_crop=True):
        self.hp = hp
        self.random_crop = random_crop
        self.hop = int(hp.data.hop_length)
        frames_per_second = int(hp.data.sampling_rate) / self.hop
        self.segment_frames = int(hp.data.segment_size) // self.hop
        self.min_frames = max(self.segment_frames, int(math.ceil(float(hp.train.min_seconds) * frames_per_second)))
        self.max_frames = max(self.min_frames, int(float(hp.train.max_seconds) * frames_per_second))
        entries = read_file_list(list_path)
        check_files_exist(entries)
        self.items, self.lengths, self.dropped = [], [], 0
        for entry in entries:
            pitch = _load_npy(entry.pitch, "pitch", mmap=True)
            _require(pitch.ndim == 1, entry.pitch, f"pitch must be float32 [N], found shape {pitch.shape}")
            frames = int(pitch.shape[0]) - 2  # the other features may be a frame or two shorter
            if frames < self.min_frames:
                self.dropped += 1
                continue
            self.items.append(entry)
            self.lengths.append(min(frames, self.max_frames))  # frames the sampler buckets by
        if not self.items:
            raise DatasetError(f"{list_path}: all {len(entries)} items are shorter than "
                               f"{self.min_frames / frames_per_second:.2f} s (train.min_seconds, or one "
                               f"data.segment_size). Add longer clips or lower train.min_seconds.")

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        if torch.utils.data.get_worker_info() is None:
            return self.read(index)
        try:
            return self.read(index)
        except DatasetError as e:
            return LoadFailure(str(e))

    def read(self, index):
        entry = self.items[index]
        spec, wav, ppg, vec, pit, spk = load_item(entry, self.hp)
        frames = min(spec.shape[1], wav.shape[1] // self.hop, ppg.shape[0], vec.shape[0], pit.shape[0])
        _require(frames >= self.segment_frames, entry.spec,
                 f"features of {entry.wave} disagree in length (spec {spec.shape[1]}, pitch {pit.shape[0]}, "
                 f"units {vec.shape[0]}, ppg {ppg.shape[0]}, audio {wav.shape[1] // self.hop} frames)")
        extra = frames - self.max_frames  # > 0: crop, at random when training
        start = random.randint(0, extra) if self.random_crop and extra > 0 else 0
        stop = start + min(frames, self.max_frames)
        return SvcItem((
            spec[:, start:stop],  # [513, T]
            wav[:, start * self.hop: stop * self.hop],  # [1, T * hop]
            ppg[start:stop],  # [T, ppg_dim]
            vec[start:stop],  # [T, vec_dim]
            pit[start:stop],  # [T]
            spk,  # [spk_dim]
        ), entry.wave)


class SvcBatch(NamedTuple):
    ppg: torch.Tensor  # [B, T, ppg_dim]
    ppg_lengths: torch.Tensor  # [B]
    vec: torch.Tensor  # [B, T, vec_dim]
    pit: torch.Tensor  # [B, T]
    spk: torch.Tensor  # [B, spk_dim]
    spec: torch.Tensor  # [B, 513, T]
    spec_lengths: torch.Tensor  # [B]
    audio: torch.Tensor  # [B, 1, T * hop]
    audio_lengths: torch.Tensor  # [B]
    names: tuple = ()  # the items' wave files, in batch order (for messages)

    def to(self, device, non_blocking=False):
        return SvcBatch(*(t.to(device, non_blocking=non_blocking) for t in self[:-1]), self.names)


def collate_svc(items):
    """Zero-pad dataset items (longest first) into an SvcBatch; a LoadFailure among them is the batch."""
    failed = next((item for item in items if isinstance(item, LoadFailure)), None)
    if failed is not None:
        return failed
    items = sorted(items, key=lambda item: item[0].shape[1], reverse=True)
    spec, wav, ppg, vec, pit, spk = zip(*items)

    def pad(tensors, time_last=False):  # zero-pad on the time axis and stack
        if time_last:
            return pad_sequence([t.T for t in tensors], batch_first=True).transpose(1, 2).contiguous()
        return pad_sequence(tensors, batch_first=True)

    spec_lengths = torch.tensor([s.shape[1] for s in spec])
    return SvcBatch(pad(ppg), spec_lengths.clone(), pad(vec), pad(pit), torch.stack(spk), pad(spec, True),
                    spec_lengths, pad(wav, True), torch.tensor([w.shape[1] for w in wav]),
                    tuple(getattr(item, "name", "?") for item in items))


class DistributedBucketSampler(torch.utils.data.Sampler):
    """Batches of similar length (buckets 100 frames = 1 s wide), sharded over `num_replicas` ranks.
    Each bucket is padded by repetition to a multiple of num_replicas * batch_size, so every rank
    gets the same number of full batches. The order is a function of (seed, epoch): see set_epoch()."""

    def __init__(self, lengths, batch_size, num_replicas=1, rank=0, seed=0):
        if not lengths:
            raise ValueError("DistributedBucketSampler: no items")
        self.batch_size = int(batch_size)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.seed = int(seed)
        self.set_epoch(0)
        low = (min(lengths) - 1) // 100 * 100
        buckets = {}  # k -> the items of lengths in (low + 100 k, low + 100 (k + 1)]
        for index, length in enumerate(lengths):
            buckets.setdefault((length - low - 1) // 100, []).append(index)
        self.buckets = [buckets[k] for k in sorted(buckets)]
        group = self.num_replicas * self.batch_size
        self.padded_sizes = [-(-len(b) // group) * group for b in self.buckets]

    def set_epoch(self, epoch, skip=0):
        """Order the batches for `epoch`; skip its first `skip` batches (a run resumed mid-epoch)."""
        self.epoch = int(epoch)
        self.skip = int(skip)

    def batches_per_epoch(self):
        return sum(self.padded_sizes) // (self.num_replicas * self.batch_size)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        batches = []
        for bucket, padded in zip(self.buckets, self.padded_sizes):
            order = torch.randperm(len(bucket), generator=g).tolist()
            order = (order * (padded // len(order) + 1))[:padded]  # repeat to fill the last group
            mine = order[self.rank::self.num_replicas]
            for j in range(0, len(mine), self.batch_size):
                batches.append([bucket[k] for k in mine[j: j + self.batch_size]])
        batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        return iter(batches[self.skip:])

    def __len__(self):
        return max(0, self.batches_per_epoch() - self.skip)


def _init_worker(worker_id):
    """Seed numpy/random from torch's per-worker seed; Ctrl-C / SIGTERM are the main process's."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def create_train_loader(hp, rank=0, world_size=1, seed=0, pin_memory=False):
    dataset = SvcDataset(hp.data.training_files, hp, random_crop=True)
    sampler = DistributedBucketSampler(dataset.lengths, hp.train.batch_size, num_replicas=world_size,
                                       rank=rank, seed=seed)
    workers = int(hp.train.num_workers)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_svc,
                                       num_workers=workers, pin_memory=pin_memory,
                                       worker_init_fn=_init_worker if workers else None)


def create_valid_loader(hp):
    dataset = SvcDataset(hp.data.validation_files, hp, random_crop=False)
    return torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, collate_fn=collate_svc, num_workers=0)
