"""Step 9: would training break on these lists? Check every item's files, then run the items
through the training dataset, bucket sampler and collate function (vits.data_utils).

Reported per clip: missing or unreadable files, wrong widths, NaN/inf, features whose lengths
disagree by more than 2 frames (100 Hz), clips too short for one decoder segment.
"""
import math
import os
import sys
import tempfile

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from common.checkpoint import load_checkpoint

FIELDS = ("wave", "spec", "pitch", "hubert", "whisper", "spk")
MAX_FRAME_GAP = 2


class CheckResult:
    def __init__(self):
        self.problems = []  # (wave path or list file, text)
        self.warnings = []
        self.checked = 0

    @property
    def ok(self):
        return self.checked > 0 and not self.problems

    def summary(self):
        lines = [f"check: {self.checked} item(s), {len(self.problems)} problem(s), {len(self.warnings)} warning(s)"]
        lines += [f"  BROKEN {path}: {text}" for path, text in self.problems]
        lines += [f"  warning {path}: {text}" for path, text in self.warnings]
        return "\n".join(lines)


def read_list(path):
    """[(line number, [six paths])] of a list file; malformed lines come back with None."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if line:
                parts = [p.strip() for p in line.split("|")]
                rows.append((number, parts if len(parts) == len(FIELDS) else None))
    return rows


def _npy(path):
    return np.load(path, allow_pickle=False)


def _finite(array):
    return bool(np.all(np.isfinite(array)))


def check_item(paths, hp):
    """(problems, warnings) of one list item: lists of texts."""
    problems, warnings = [], []
    files = dict(zip(FIELDS, paths))
    missing = [f"{k} {p}" for k, p in files.items() if not os.path.isfile(p)]
    if missing:
        return [f"missing {', '.join(missing)}"], warnings
    hop, sr = int(hp.data.hop_length), int(hp.data.sampling_rate)
    lengths = {}
    try:
        info = sf.info(files["wave"])
        if info.samplerate != sr:
            problems.append(f"wave is {info.samplerate} Hz, the config wants {sr} Hz")
        wav = sf.read(files["wave"], dtype="float32", always_2d=True)[0]
        if not _finite(wav):
            problems.append("wave holds NaN/inf")
        lengths["audio"] = wav.shape[0] // hop
    except Exception as e:
        problems.append(f"wave unreadable ({e})")
    try:
        spec = load_checkpoint(files["spec"], what="spectrogram file")
        bins = int(hp.data.filter_length) // 2 + 1
        if not torch.is_tensor(spec) or spec.dim() != 2 or spec.shape[0] != bins:
            shape = tuple(spec.shape) if torch.is_tensor(spec) else type(spec).__name__
            problems.append(f"spec {files['spec']} is {shape}, expected [{bins}, N]")
        else:
            lengths["spec"] = spec.shape[1]
            if not bool(torch.isfinite(spec).all()):
                problems.append(f"spec {files['spec']} holds NaN/inf")
    except Exception as e:
        problems.append(f"spec unreadable ({e})")
    widths = {"hubert": int(hp.vits.vec_dim), "whisper": int(hp.vits.ppg_dim)}
    for key in ("pitch", "hubert", "whisper", "spk"):
        try:
            array = _npy(files[key])
        except Exception as e:
            problems.append(f"{key} {files[key]} unreadable ({e})")
            continue
        if not _finite(array):
            problems.append(f"{key} {files[key]} holds NaN/inf")
        if key == "pitch":
            if array.ndim != 1:
                problems.append(f"pitch {files[key]} has shape {array.shape}, expected [N]")
            else:
                lengths["pitch"] = array.shape[0]
        elif key == "spk":
            if array.shape != (int(hp.vits.spk_dim),):
                problems.append(f"spk {files[key]} has shape {array.shape}, expected [{hp.vits.spk_dim}] "
                                f"(vits.spk_dim)")
        elif array.ndim != 2 or array.shape[1] != widths[key]:
            dim_key = "vits.vec_dim" if key == "hubert" else "vits.ppg_dim"
            problems.append(f"{key} {files[key]} has shape {array.shape}, expected [N, {widths[key]}] ({dim_key})")
        else:
            lengths[key] = 2 * array.shape[0]  # 50 Hz -> 100 Hz frames
    if lengths:
        spread = max(lengths.values()) - min(lengths.values())
        if spread > MAX_FRAME_GAP:
            described = ", ".join(f"{k} {v}" for k, v in lengths.items())
            problems.append(f"feature lengths disagree by {spread} frames at 100 Hz ({described}): "
                            f"delete this clip's features and rerun the preprocessing")
        frames = min(lengths.values())
        segment = int(hp.data.segment_size) // hop
        min_frames = int(math.ceil(float(hp.train.min_seconds) * sr / hop))
        if frames < segment:
            problems.append(f"too short: {frames} frames, one training segment needs {segment}")
        elif frames < min_frames:
            warnings.append(f"shorter than train.min_seconds ({frames} frames < {min_frames}): training drops it")
    return problems, warnings


def _dataset_api():
    import vits.data_utils as du

    dataset_cls = getattr(du, "SvcDataset", None) or getattr(du, "TextAudioSpeakerSet")
    collate = getattr(du, "collate_svc", None) or du.TextAudioSpeakerCollate()
    return du, dataset_cls, collate


def run_through_dataset(list_path, hp, result):
    """Load every item with the training dataset, then every batch through sampler + collate."""
    try:
        du, dataset_cls, collate = _dataset_api()
    except (ImportError, AttributeError) as e:
        result.warnings.append((list_path, f"vits.data_utils is not usable ({e}); only the file checks ran"))
        return
    try:
        dataset = dataset_cls(list_path, hp)
    except Exception as e:
        result.problems.append((list_path, f"the training dataset rejects the list: {e}"))
        return
    for index in tqdm(range(len(dataset)), desc="dataset items", unit="item", file=sys.stderr):
        try:
            dataset[index]
        except Exception as e:
            item = dataset.items[index].wave if hasattr(dataset, "items") else f"item {index}"
            result.problems.append((item, f"dataset: {e}"))
    lengths = getattr(dataset, "lengths", None)
    batch_size = max(1, min(int(hp.train.batch_size), len(dataset)))
    try:
        sampler = du.DistributedBucketSampler(lengths if lengths is not None else dataset, batch_size,
                                              num_replicas=1, rank=0, shuffle=True)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0)
        for _ in tqdm(loader, desc="batches", unit="batch", file=sys.stderr):
            pass
    except Exception as e:
        result.problems.append((list_path, f"sampler/collate: {type(e).__name__}: {e}"))


def check_lists(list_paths, hp, with_dataset=True):
    result = CheckResult()
    for list_path in list_paths:
        if not os.path.isfile(list_path):
            result.problems.append((list_path, "list not found: run prepare/preprocess_train.py first"))
            continue
        rows = read_list(list_path)
        good_lines = []
        for number, paths in tqdm(rows, desc=f"check {os.path.basename(list_path)}", unit="item", file=sys.stderr):
            result.checked += 1
            if paths is None:
                result.problems.append((f"{list_path}:{number}", f"expected {len(FIELDS)} '|'-separated paths"))
                continue
            problems, warnings = check_item(paths, hp)
            result.problems += [(paths[0], text) for text in problems]
            result.warnings += [(paths[0], text) for text in warnings]
            if not problems and not warnings:
                good_lines.append("|".join(paths))
        if not rows:
            result.warnings.append((list_path, "the list is empty"))
        if with_dataset and good_lines:
            with tempfile.TemporaryDirectory() as tmp:
                clean = os.path.join(tmp, os.path.basename(list_path))
                with open(clean, "w", encoding="utf-8") as f:
                    f.write("\n".join(good_lines) + "\n")
                run_through_dataset(clean, hp, result)
    return result
