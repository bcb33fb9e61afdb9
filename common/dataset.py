"""The one walker over `<root>/<speaker>/<file>` dataset folders, and output-path helpers."""
import os

from common.atomic import is_temp_file
from common.audio import is_audio_file

FEATURE_SUFFIXES = (".ppg.npy", ".vec.npy", ".pit.npy", ".spk.npy", ".npy", ".pt")


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
            if accept(fname):  # the name without a known feature suffix ('x.ppg.npy'), else its extension
                bare = next((fname[:-len(s)] for s in FEATURE_SUFFIXES if fname.endswith(s)), None)
                items.append((speaker, bare or os.path.splitext(fname)[0], path))
    return items


def output_path(out_root, speaker, name, suffix):
    return os.path.join(os.fspath(out_root), speaker, name + suffix)
