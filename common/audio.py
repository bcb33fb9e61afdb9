"""Audio loading and saving. Everything else in the toolkit reads and writes audio through here."""
import os
import struct
import warnings

import numpy as np
import soundfile as sf

from common.atomic import atomic_path


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the fix."""


# Every extractor (Whisper, HuBERT, CREPE/FCPE, the speaker encoder) reads 16 kHz mono audio.
EXTRACT_RATE = 16000

# Samples beyond this are no recording: a float file written at the wrong scale, or damaged.
MAX_SAMPLE = 1000.0
# Peak (of [-1, 1] audio) below which a conversion result counts as silent; about -100 dBFS.
SILENT_PEAK = 1e-5
# The longest analysis hop of the extractors: Whisper and HuBERT give one frame per 20 ms; shorter
# audio would silently give zero frames.
MIN_SECONDS = 0.02
# Data sizes that streaming writers leave in the header when they do not know the length yet.
UNKNOWN_SIZES = (0, 0xFFFFFFFF)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aiff", ".aif", ".wma")


def _read_any(path):
    """Return (samples [T, C] float32, rate). soundfile first, librosa/audioread as fallback."""
    try:
        return sf.read(path, dtype="float32", always_2d=True)
    except Exception as sf_error:
        try:
            import librosa

            # librosa and audioread warn ("PySoundFile failed. Trying audioread instead", audioread's
            # deprecations) before they succeed or fail; the outcome, or our message below, is what matters.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data, sr = librosa.load(path, sr=None, mono=False)
        except Exception:
            raise AudioError(
                f"{path}: cannot read this audio file ({sf_error}). Convert it to WAV or FLAC "
                f"(e.g. `ffmpeg -i \"{path}\" out.wav`) or remove it from the folder."
            ) from None
        return np.atleast_2d(np.asarray(data, dtype=np.float32)).T, sr


def _wav_data_shortfall(path):
    """(declared bytes, present bytes) when a RIFF/WAVE file's `data` chunk ends early, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"data":
                    present = os.path.getsize(path) - f.tell()
                    return (size, present) if size not in UNKNOWN_SIZES and present < size else None
                f.seek(size + (size & 1), os.SEEK_CUR)   # chunks are padded to even sizes
    except OSError:
        return None


def load_audio(path, sr):
    """Load any soundfile/librosa-readable file as mono float32 at `sr` Hz: channels averaged,
    integer PCM scaled to [-1, 1], the rate converted with soxr. A WAV whose data ends before its
    header says, or audio shorter than one analysis frame, raises AudioError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(f"{path}: file not found. Check the path (quote names with spaces).")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes). Re-export or remove it.")
    shortfall = _wav_data_shortfall(path)
    if shortfall:
        declared, present = shortfall
        raise AudioError(f"{path}: the WAV data ends early: the header declares {declared} bytes of samples "
                         f"but only {max(present, 0)} follow (an interrupted copy or recording). "
                         f"Copy or export the file again.")
    data, file_sr = _read_any(path)
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if wav.size == 0:
        raise AudioError(f"{path}: the file holds no samples. Re-export or remove it.")
    if wav.size < MIN_SECONDS * file_sr:
        raise AudioError(f"{path}: too short: {wav.size} samples ({1000.0 * wav.size / file_sr:.1f} ms), "
                         f"shorter than one analysis frame ({1000 * MIN_SECONDS:.0f} ms): no features can be "
                         f"taken from it. Use a longer recording.")
    if not np.all(np.isfinite(wav)):
        raise AudioError(f"{path}: the audio holds NaN or infinite samples. Re-export it as 16-bit PCM.")
    peak = float(np.abs(wav).max())
    if peak > MAX_SAMPLE:
        raise AudioError(f"{path}: the audio holds samples of {peak:.3g} where recordings stay within [-1, 1]: the "
                         f"file is damaged or a float WAV written at the wrong scale. Re-export it as 16-bit PCM.")
    if file_sr != sr:
        wav = resample(wav, file_sr, sr)
    return np.ascontiguousarray(wav, dtype=np.float32)


def resample(wav, sr_in, sr_out):
    """High-quality resampling with soxr (what librosa's 'soxr_hq' calls, without its slow import)."""
    import soxr

    return soxr.resample(np.asarray(wav, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


class OutputError(ValueError):
    """A result that must not be written: NaN/infinite samples, or silence made from sound."""


def check_output(wav, name, source=None):
    """`wav` itself when it may be written, else OutputError: NaN or infinite samples (a 16-bit file
    would hold them as quiet zeros), or silence when `source` (the input, float) is not silent."""
    wav = np.asarray(wav)
    if wav.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(wav)))
        if bad:
            raise OutputError(f"{name}: the conversion produced {bad} NaN or infinite samples of {wav.size}, so "
                              f"nothing was written. The model file or the features hold values out of range "
                              f"(NaN or huge weights, a damaged feature file): export or train the model again, "
                              f"or extract the features again.")
    if source is not None and wav.size:
        scale = 32768.0 if wav.dtype.kind in "iu" else 1.0
        source = np.asarray(source, dtype=np.float64)
        if source.size and np.abs(source).max() > SILENT_PEAK and np.abs(wav).max() / scale <= SILENT_PEAK:
            raise OutputError(f"{name}: the conversion of sound came out silent (peak below -100 dBFS), so nothing "
                              f"was written. The model or singer vector is broken (e.g. NaN or zero weights, or a "
                              f"vector of another speaker encoder): try another model or singer file.")
    return wav


def to_pcm16(wav):
    """int16 samples of `wav`; float input is clipped to [-1, 1] and scaled by 32767 (NaN/inf: OutputError)."""
    wav = np.asarray(wav)
    if wav.dtype.kind != "f":
        return wav.astype(np.int16)
    check_output(wav, "audio")
    return np.round(np.clip(wav, -1.0, 1.0) * 32767.0).astype(np.int16)


def save_audio(path, wav, sr, source=None):
    """Write mono 16-bit PCM WAV atomically, float input clipped to [-1, 1]; what check_output
    refuses (NaN/inf, silence made from a non-silent `source`) raises OutputError and writes nothing."""
    check_output(wav, os.fspath(path), source)
    with atomic_path(path) as tmp:
        sf.write(tmp, to_pcm16(wav), sr, subtype="PCM_16", format="WAV")


def is_audio_file(name):
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS
