"""Step 6: per-file speaker vectors -> one mean timbre per speaker (`singer/<speaker>.spk.npy`).

As in the public tool the mean is a plain arithmetic mean of the d-vectors, without re-normalising
it to unit length. A speaker whose mean is unchanged is not rewritten (its mtime stays).
"""
import os

import numpy as np

from common.atomic import save_npy
from common.dataset import iter_dataset
from prepare.jobs import StepError, StepReport, remove_temp_files
from prepare.layout import SPK_SUFFIX


def _is_spk(name):
    return name.endswith(SPK_SUFFIX)


def speaker_means(speaker_root, singer_root):
    if not os.path.isdir(speaker_root):
        raise StepError(f"{speaker_root}: folder of per-file speaker vectors not found. Run step 5 first "
                        f"(prepare/preprocess_speaker.py).")
    remove_temp_files(singer_root)
    report = StepReport("speaker means")
    by_speaker = {}
    for speaker, _name, path in iter_dataset(speaker_root, accept=_is_spk):
        try:
            vec = np.load(path).astype(np.float32)
        except Exception as e:
            report.fail(path, f"unreadable ({e}); delete it and rerun step 5")
            continue
        if vec.ndim != 1 or not np.all(np.isfinite(vec)):
            report.fail(path, f"not a finite 1-D vector (shape {vec.shape}); delete it and rerun step 5")
            continue
        by_speaker.setdefault(speaker, []).append((path, vec))
    for speaker, entries in sorted(by_speaker.items()):
        widths = {vec.shape[0] for _, vec in entries}
        if len(widths) > 1:
            report.fail(os.path.join(speaker_root, speaker), f"vectors of different widths {sorted(widths)}: "
                                                             f"delete the folder and rerun step 5")
            continue
        mean = np.mean(np.stack([vec for _, vec in entries]), axis=0).astype(np.float32)
        out = os.path.join(singer_root, speaker + SPK_SUFFIX)
        if os.path.exists(out):
            try:
                if np.array_equal(np.load(out), mean):
                    report.exists()
                    continue
            except Exception:
                pass  # unreadable old mean: rewrite it
        save_npy(out, mean)
        report.ok()
    return report
