"""The one walker over `<root>/<speaker>/<file>` dataset folders, and output-path helpers."""
import os

from common.atomic import is_temp_file
from common.audio import is_audio_file


def iter_dataset(root, accept=is_audio_file):
    """Sorted list of (speaker, name, path) for files `<root>/<speaker>/<name><ext>`; hidden files, temp
    files of interrupted writes, and files directly in `root` (no speaker folder) are ignored."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: dataset folder not found. Expected <folder>/<speaker>/<files>.")
    items = []
    for speaker in sorted(os.listdir(root)):
        folder = os.path.join(root, speaker)
        if speaker.startswith(".") or not os.path.isdir(folder):
            continue
        for fname in sorted(os.listdir(folder)):
            path = os.path.join(folder, fname)
            if fname.startswith(".") or is_temp_file(fname) or not os.path.isfile(path):
                continue
            if accept(fname):
                items.append((speaker, strip_suffix(fname), path))
    return items


def strip_suffix(fname):
    """'a.b.ppg.npy' style names: remove a known feature suffix, else the last extension."""
    for suffix in (".ppg.npy", ".vec.npy", ".pit.npy", ".spk.npy", ".npy", ".pt"):
        if fname.endswith(suffix):
            return fname[: -len(suffix)]
    return os.path.splitext(fname)[0]


def output_path(out_root, speaker, name, suffix):
    """`<out_root>/<speaker>/<name><suffix>`, e.g. suffix '.ppg.npy'."""
    return os.path.join(os.fspath(out_root), speaker, name + suffix)
