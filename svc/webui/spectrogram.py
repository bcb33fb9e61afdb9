"""The pitch editor's background: a spectrogram on a musical (MIDI note) axis, one column per 10 ms
pitch frame, so the F0 curve drawn over it lines up row for row (note = 69 + 12 log2(f / 440))."""
import numpy as np

HOP = 160                 # 16 kHz samples per column = the 100 Hz pitch frame
N_FFT = 2048              # 7.8 Hz bins: low notes are blurred but the harmonics above them are sharp
MIDI_LOW, MIDI_HIGH = 24, 96   # C1 (32.7 Hz) .. C7 (2093 Hz)
ROWS_PER_SEMITONE = 2
DYNAMIC_RANGE_DB = 80.0
BLOCK = 2048              # columns transformed at once (a 5-minute song would need 0.5 GB at once)


def hz_to_midi(hz):
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def row_notes():
    """MIDI note at the centre of each row, bottom (row 0) to top."""
    rows = (MIDI_HIGH - MIDI_LOW) * ROWS_PER_SEMITONE
    return MIDI_LOW + (np.arange(rows) + 0.5) / ROWS_PER_SEMITONE


def note_spectrogram(wav16k, frames=None):
    """uint8 [rows, frames]: dB magnitude on the note axis, 0 = silence, 255 = the loudest bin."""
    wav = np.asarray(wav16k, dtype=np.float32)
    frames = len(wav) // HOP if frames is None else frames
    padded = np.pad(wav, (N_FFT // 2, N_FFT // 2 + frames * HOP))
    window = np.hanning(N_FFT).astype(np.float32)
    bin_of_row = 440.0 * 2.0 ** ((row_notes() - 69.0) / 12.0) * N_FFT / 16000.0  # each row's FFT bin
    low = np.floor(bin_of_row).astype(int)
    frac = (bin_of_row - low).astype(np.float32)
    columns = np.empty((len(bin_of_row), frames), dtype=np.float32)
    for start in range(0, frames, BLOCK):
        count = min(BLOCK, frames - start)
        idx = (start + np.arange(count))[:, None] * HOP + np.arange(N_FFT)[None]
        mag = np.abs(np.fft.rfft(padded[idx] * window, axis=1))   # [count, N_FFT // 2 + 1]
        rows = mag[:, low] * (1 - frac) + mag[:, low + 1] * frac  # [count, rows]
        columns[:, start:start + count] = rows.T
    db = 20.0 * np.log10(np.maximum(columns, 1e-9))
    top = db.max() if db.size else 0.0
    scaled = (db - (top - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)
