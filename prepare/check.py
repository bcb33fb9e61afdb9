"""Step 9: would training break on these lists? Each item is checked by the training loader (files, widths,
NaN/inf, range) and here (lengths, duration), then all run through the dataset, sampler and collate."""
import math
import os
import sys
import tempfile

import soundfile as sf
import torch
from tqdm import tqdm

from vits.data_utils import (FIELDS, DatasetError, DistributedBucketSampler, ListEntry, SvcDataset, check_files_exist,
                             collate_svc, load_item, parse_list)

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


def check_item(entry, hp):
    """(problems, warnings) of one list item: lists of texts."""
    problems, warnings = [], []
    hop, sr = int(hp.data.hop_length), int(hp.data.sampling_rate)
    try:
        check_files_exist([entry])
        rate = sf.info(entry.wave).samplerate
        if rate != sr:
            problems.append(f"wave is {rate} Hz, the config wants {sr} Hz")
        spec, wav, ppg, vec, pit, _ = load_item(entry, hp)
    except (DatasetError, RuntimeError) as e:  # RuntimeError: soundfile cannot read the wave
        return problems + [str(e)], warnings
    # 100 Hz frames of each feature (PPG and units come back repeated to 100 Hz)
    lengths = {"audio": wav.shape[1] // hop, "spec": spec.shape[1], "pitch": pit.shape[0],
               "hubert": vec.shape[0], "whisper": ppg.shape[0]}
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


def run_through_dataset(list_path, hp, result):
    """Load every item with the training dataset, then every batch through sampler + collate."""
    try:
        dataset = SvcDataset(list_path, hp)
    except Exception as e:
        result.problems.append((list_path, f"the training dataset rejects the list: {e}"))
        return
    for index in tqdm(range(len(dataset)), desc="dataset items", unit="item", file=sys.stderr):
        try:
            dataset[index]
        except Exception as e:
            result.problems.append((dataset.items[index].wave, f"dataset: {e}"))
    batch_size = max(1, min(int(hp.train.batch_size), len(dataset)))
    try:
        sampler = DistributedBucketSampler(dataset.lengths, batch_size, num_replicas=1, rank=0)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_svc, num_workers=0)
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
        rows = parse_list(list_path)
        if not rows:
            result.warnings.append((list_path, "the list is empty"))
        good_lines = []
        for number, entry in tqdm(rows, desc=f"check {os.path.basename(list_path)}", unit="item", file=sys.stderr):
            result.checked += 1
            if not isinstance(entry, ListEntry):
                result.problems.append((f"{list_path}:{number}", f"expected {len(FIELDS)} '|'-separated paths"))
                continue
            problems, warnings = check_item(entry, hp)
            result.problems += [(entry.wave, text) for text in problems]
            result.warnings += [(entry.wave, text) for text in warnings]
            if not problems and not warnings:
                good_lines.append("|".join(entry[:len(FIELDS)]))
        if with_dataset and good_lines:
            with tempfile.TemporaryDirectory() as tmp:
                clean = os.path.join(tmp, os.path.basename(list_path))
                with open(clean, "w", encoding="utf-8") as f:
                    f.write("\n".join(good_lines) + "\n")
                run_through_dataset(clean, hp, result)
    return result
