"""Batch pitch extraction: audio files -> training-mode .pit.npy, atomically, skipping bad files."""
import os

from tqdm import tqdm

from common.atomic import save_npy
from common.audio import AudioError, load_audio
from common.batch import BatchReport


def extract_files(extractor, in_paths, out_paths, skip_existing=True, progress=True):
    """Write extractor.training(wav) for each input; returns a BatchReport (bad files skipped with a reason)."""
    in_paths, out_paths = list(in_paths), list(out_paths)
    if len(in_paths) != len(out_paths):
        raise ValueError(f"extract_files: {len(in_paths)} inputs but {len(out_paths)} outputs.")
    report = BatchReport("pitch")
    for src, dst in tqdm(list(zip(in_paths, out_paths)), desc="pitch", unit="file", disable=not progress):
        if skip_existing and os.path.isfile(dst):
            report.exists()
            continue
        try:
            wav = load_audio(src, 16000)
            f0 = extractor.training(wav)
        except (AudioError, ValueError, RuntimeError, MemoryError) as e:
            report.fail(src, e)
            continue
        save_npy(dst, f0)
        report.ok()
    return report
