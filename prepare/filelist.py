"""Step 8: `files/train.txt` and `files/valid.txt`, one `wave|spec|pitch|hubert|whisper|spk` line per clip
with paths as the public tool writes them (`./data_svc/waves-32k/<spk>/<name>.wav` ...)."""
import os
import random

from common.atomic import write_text
from common.dataset import iter_dataset
from prepare.jobs import StepError, StepReport
from prepare.layout import PITCH_SUFFIX, PPG_SUFFIX, SPEC_SUFFIX, SPK_SUFFIX, VEC_SUFFIX, is_wav


def list_root(root):
    """The data root as written into the lists: relative paths start with './' (public style)."""
    root = root.replace(os.sep, "/").rstrip("/") or "."
    if not os.path.isabs(root) and not root.startswith("."):
        root = "./" + root
    return root


def item_paths(root, speaker, name, singer_mean=False):
    """The six paths of one clip, in list order."""
    spk = f"{root}/singer/{speaker}{SPK_SUFFIX}" if singer_mean else f"{root}/speaker/{speaker}/{name}{SPK_SUFFIX}"
    folders = (("waves-32k", ".wav"), ("specs", SPEC_SUFFIX), ("pitch", PITCH_SUFFIX), ("hubert", VEC_SUFFIX),
               ("whisper", PPG_SUFFIX))
    return [f"{root}/{folder}/{speaker}/{name}{suffix}" for folder, suffix in folders] + [spk]


def valid_count(n_items, wanted=10):
    """`wanted` held out when there are plenty (>= 10 per held-out clip), at least 1 from 2 clips on."""
    if n_items < 2 or wanted <= 0:
        return 0
    return max(1, min(wanted, n_items // 10))


def split_items(items, wanted_valid=10, seed=1234):
    """Seeded shuffle; returns (train, valid), valid sorted."""
    items = sorted(items)
    random.Random(seed).shuffle(items)
    n_valid = valid_count(len(items), wanted_valid)
    return items[n_valid:], sorted(items[:n_valid])


def _write_if_changed(path, lines):
    """Rewrite only on change, so rerunning the step leaves the files (and their mtimes) alone."""
    text = "".join(line + "\n" for line in lines)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    write_text(path, text)
    return True


def write_filelists(data_root="./data_svc", out_dir="./files", singer_mean=False, wanted_valid=10, seed=1234):
    """Write the lists (left alone when no clip is usable); clips with missing features are in the
    report's `failed`."""
    waves32 = os.path.join(data_root, "waves-32k")
    if not os.path.isdir(waves32):
        raise StepError(f"{waves32}: no 32 kHz waves. Run step 1 first (prepare/preprocess_a.py -s 32000).")
    report = StepReport("file lists")
    root = list_root(data_root)
    items = []
    for speaker, name, _path in iter_dataset(waves32, accept=is_wav):
        paths = item_paths(root, speaker, name, singer_mean)
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            report.fail(paths[0], "missing " + ", ".join(missing))
            continue
        if any("|" in p or "\n" in p or p != p.strip() for p in paths):
            report.fail(paths[0], "the name holds '|', a line break or leading/trailing spaces, which the list "
                                  "format cannot carry: rename it")
            continue
        items.append("|".join(paths))
    train, valid = split_items(items, wanted_valid, seed)
    report.n_train, report.n_valid = len(train), len(valid)
    if not items:
        return report
    changed = _write_if_changed(os.path.join(out_dir, "train.txt"), train)
    changed |= _write_if_changed(os.path.join(out_dir, "valid.txt"), valid)
    report.done, report.skipped_existing = (len(items), 0) if changed else (0, len(items))
    if len(items) == 1:
        report.warnings.append((out_dir, "only one usable clip: valid.txt is empty"))
    return report
