"""Step 7: 32 kHz waves -> linear magnitude spectrograms `specs/<spk>/<name>.pt` ([513, frames])."""
import os

import soundfile as sf
import torch

from common.audio import AudioError, load_audio
from common.checkpoint import save_checkpoint
from common.dataset import iter_dataset, output_path
from prepare.jobs import OK, Outcome, StepError, StepReport, remove_temp_files, run_jobs
from prepare.layout import SPEC_SUFFIX, is_wav
from vits.spectrogram import spectrogram_torch


def compute_spec(wave_path, spec_path, sampling_rate=32000, n_fft=1024, hop=320, win=1024):
    """Write the spectrogram of one WAV, which must already be at `sampling_rate`."""
    file_sr = sf.info(wave_path).samplerate
    if file_sr != sampling_rate:
        raise AudioError(f"{wave_path}: {file_sr} Hz, expected {sampling_rate} Hz. Rerun step 1 "
                         f"(prepare/preprocess_a.py -s {sampling_rate}) into a fresh folder.")
    wav = load_audio(wave_path, sampling_rate)
    if len(wav) < n_fft:
        raise AudioError(f"{wave_path}: {len(wav)} samples, shorter than one {n_fft}-sample window")
    with torch.no_grad():
        spec = spectrogram_torch(torch.from_numpy(wav).unsqueeze(0), n_fft, hop, win)  # [1, F, N]
    save_checkpoint(spec.squeeze(0).contiguous(), spec_path)  # [F, N]
    return Outcome(OK, wave_path)


def spec_dataset(wave_root, spec_root, hp_data=None, pool=None):
    """Spectrograms for every `<wave_root>/<speaker>/<name>.wav`. `hp_data` = config `data` section."""
    if not os.path.isdir(wave_root):
        raise StepError(f"{wave_root}: folder of 32 kHz waves not found. Run step 1 first "
                        f"(prepare/preprocess_a.py -s 32000).")
    remove_temp_files(spec_root)
    settings = () if hp_data is None else (int(hp_data.sampling_rate), int(hp_data.filter_length),
                                           int(hp_data.hop_length), int(hp_data.win_length))
    report = StepReport("spectrograms")
    jobs = []
    for spk, name, path in iter_dataset(wave_root, accept=is_wav):
        out = output_path(spec_root, spk, name, SPEC_SUFFIX)
        if os.path.exists(out):
            report.exists()
        else:
            jobs.append((path, out) + settings)
    return run_jobs(compute_spec, jobs, report, desc="spectrograms", pool=pool)
