"""Inputs every extractor would silently turn into zero frames: WAV files whose sample data stops
before the length their header declares (an interrupted copy or recording), and audio shorter
than one analysis frame."""
import os
import struct

# The longest analysis hop of the extractors: Whisper and HuBERT give one frame per 20 ms.
MIN_SECONDS = 0.02
# Data sizes that streaming writers leave in the header when they do not know the length yet.
UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def wav_data_shortfall(path):
    """(declared bytes, present bytes) when a RIFF/WAVE file's `data` chunk ends early, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if kind == b"data":
                    present = os.path.getsize(path) - f.tell()
                    if size not in UNKNOWN_SIZES and present < size:
                        return size, present
                    return None
                f.seek(size + (size & 1), os.SEEK_CUR)   # chunks are padded to even sizes
    except OSError:
        return None


def incomplete_wav_message(path):
    """The error text for a WAV whose data ends early, or None when it is complete."""
    shortfall = wav_data_shortfall(path)
    if shortfall is None:
        return None
    declared, present = shortfall
    return (f"{path}: the WAV data ends early: the header declares {declared} bytes of samples but only "
            f"{max(present, 0)} follow (an interrupted copy or recording). Copy or export the file again.")


def too_short_message(path, samples, sr):
    """The error text for audio shorter than one analysis frame, or None."""
    if samples >= MIN_SECONDS * sr:
        return None
    return (f"{path}: too short: {samples} samples ({1000.0 * samples / sr:.1f} ms), shorter than one analysis "
            f"frame ({1000 * MIN_SECONDS:.0f} ms): no features can be taken from it. Use a longer recording.")
