"""Step 6: per-file speaker vectors -> one mean timbre per speaker (`singer/<speaker>.spk.npy`, a plain
mean as in the public tool, not re-normalised), and each speaker's F0 range beside it (`<speaker>.f0.json`,
for `svc_inference.py --auto-shift`). A speaker whose mean (or range) is unchanged is not rewritten.
"""
import contextlib
import json
import os

import numpy as np

from common.atomic import save_npy
from common.dataset import iter_dataset
from pitch.singer_range import RANGE_SUFFIX, f0_range, write_range
from prepare.jobs import StepError, StepReport, remove_temp_files
from prepare.layout import PITCH_SUFFIX, SPK_SUFFIX


def speaker_means(speaker_root, singer_root):
    if not os.path.isdir(speaker_root):
        raise StepError(f"{speaker_root}: folder of per-file speaker vectors not found. Run step 5 first "
                        f"(prepare/preprocess_speaker.py).")
    remove_temp_files(singer_root)
    report = StepReport("speaker means")
    by_speaker = {}
    for speaker, _name, path in iter_dataset(speaker_root, accept=lambda name: name.endswith(SPK_SUFFIX)):
        try:
            vec = np.load(path).astype(np.float32)
        except Exception as e:
            report.fail(path, f"unreadable ({e}); delete it and rerun step 5")
            continue
        if vec.ndim != 1 or not np.all(np.isfinite(vec)):
            report.fail(path, f"not a finite 1-D vector (shape {vec.shape}); delete it and rerun step 5")
            continue
        by_speaker.setdefault(speaker, []).append(vec)
    for speaker, vectors in sorted(by_speaker.items()):
        widths = {vec.shape[0] for vec in vectors}
        if len(widths) > 1:
            report.fail(os.path.join(speaker_root, speaker), f"vectors of different widths {sorted(widths)}: "
                                                             f"delete the folder and rerun step 5")
            continue
        mean = np.mean(np.stack(vectors), axis=0).astype(np.float32)
        out = os.path.join(singer_root, speaker + SPK_SUFFIX)
        with contextlib.suppress(Exception):  # a missing or unreadable old mean is written
            if np.array_equal(np.load(out), mean):
                report.exists()
                continue
        save_npy(out, mean)
        report.ok()
    return report


def singer_ranges(pitch_root, singer_root):
    """Each speaker's voiced F0 range from `<pitch_root>/<speaker>/*.pit.npy` -> `<singer_root>/<speaker>.f0.json`."""
    if not os.path.isdir(pitch_root):
        raise StepError(f"{pitch_root}: folder of training pitch files not found. Run step 2 first "
                        f"(prepare/preprocess_crepe.py).")
    report = StepReport("singer F0 ranges")
    by_speaker = {}
    for speaker, _name, path in iter_dataset(pitch_root, accept=lambda name: name.endswith(PITCH_SUFFIX)):
        try:
            by_speaker.setdefault(speaker, []).append(np.load(path))
        except Exception as e:
            report.fail(path, f"unreadable ({e}); delete it and rerun step 2")
    for speaker, tracks in sorted(by_speaker.items()):
        stats = f0_range(tracks)
        if stats is None:
            report.fail(os.path.join(pitch_root, speaker), "no voiced frame in its pitch files: check its audio")
            continue
        out = os.path.join(singer_root, speaker + RANGE_SUFFIX)
        note = f"voiced frames of {os.path.join(pitch_root, speaker)}"
        with contextlib.suppress(OSError, ValueError), open(out, encoding="utf-8") as f:  # else: write it
            if json.load(f) == dict(stats, source=note):
                report.exists()
                continue
        write_range(out, stats, note=note)
        report.ok()
    return report
