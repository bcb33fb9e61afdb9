"""Audio front end of the LSTM speaker encoder (Mozilla/Coqui TTS AudioProcessor settings of
so-vits-svc-5.0's speaker_pretrain/config.json, see tests/data/compat/speaker_lstm_checkpoint.json).

Pure numpy/librosa on the CPU, so batch jobs can run it in worker processes.
"""
import functools

import numpy as np

from common.audio import EXTRACT_RATE, AudioError
from common.mel_filters import mel_filters

N_MELS = 80
N_FFT = 1024
WIN_LENGTH = 1024
HOP_LENGTH = 256
PREEMPHASIS = 0.98
MEL_FMIN = 0.0
MEL_FMAX = 8000.0
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_NORM = 4.0
AMP_FLOOR = 1e-5
TRIM_DB = 60
EDGE_MARGIN = EXTRACT_RATE // 100  # 10 ms cut from both ends before the silence trim
PEAK_LEVEL = 0.95
MIN_SAMPLES = N_FFT  # 64 ms: shorter input gives no full STFT window


@functools.lru_cache(maxsize=1)
def mel_basis():
    """[N_MELS, N_FFT // 2 + 1] Slaney mel filters, as librosa.filters.mel builds them."""
    return mel_filters(EXTRACT_RATE, N_FFT, N_MELS, MEL_FMIN, MEL_FMAX)


def trim_silence(wav):
    """Drop 10 ms at each edge, then leading/trailing parts more than 60 dB below the peak."""
    import librosa

    if wav.size > 2 * EDGE_MARGIN:
        wav = wav[EDGE_MARGIN:-EDGE_MARGIN]
    trimmed, _ = librosa.effects.trim(wav, top_db=TRIM_DB, frame_length=WIN_LENGTH, hop_length=HOP_LENGTH)
    return trimmed if trimmed.size >= MIN_SAMPLES else wav


def peak_normalise(wav):
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak == 0.0:
        raise AudioError("the audio is silent (all samples are zero): it holds no voice to embed. "
                         "Remove the file or replace it with a recording of the speaker.")
    return wav / peak * PEAK_LEVEL


def mel_frames(wav):
    """Normalised log-mel frames of an already trimmed, peak-normalised waveform -> float32 [T, N_MELS]."""
    import librosa

    wav = np.asarray(wav, dtype=np.float64)
    emphasised = np.concatenate([wav[:1], wav[1:] - PREEMPHASIS * wav[:-1]])  # y[n] = x[n] - 0.98 x[n-1]
    spec = librosa.stft(y=emphasised, n_fft=N_FFT, hop_length=HOP_LENGTH,
                        win_length=WIN_LENGTH, window="hann", center=True, pad_mode="reflect")
    mel = mel_basis() @ np.abs(spec)  # [N_MELS, T]
    db = 20.0 * np.log10(np.maximum(AMP_FLOOR, mel))
    # (db - ref) from [min_level, 0] onto the symmetric range [-MAX_NORM, MAX_NORM]
    unit = (db - REF_LEVEL_DB - MIN_LEVEL_DB) / -MIN_LEVEL_DB
    normalised = np.clip(2.0 * MAX_NORM * unit - MAX_NORM, -MAX_NORM, MAX_NORM)
    return np.ascontiguousarray(normalised.T, dtype=np.float32)


def melspectrogram(wav16k):
    """The whole front end: 16 kHz mono float wave -> float32 [T, 80] frames for the LSTM (AudioError
    for empty, silent or non-finite input)."""
    wav = np.asarray(wav16k, dtype=np.float32)
    if wav.ndim != 1:
        raise AudioError(f"expected a mono 1-D wave, got shape {wav.shape}. Average the channels first.")
    if wav.size < MIN_SAMPLES:
        raise AudioError(f"the audio is too short for a speaker embedding ({wav.size} samples, need at least "
                         f"{MIN_SAMPLES} = {1000 * MIN_SAMPLES // EXTRACT_RATE} ms at 16 kHz). Remove the file.")
    if not np.all(np.isfinite(wav)):
        raise AudioError("the audio holds NaN or infinite samples. Re-export it as 16-bit PCM.")
    return mel_frames(peak_normalise(trim_silence(wav)))


def load_mel(path):
    """Front end of batch extraction (picklable, for worker processes): audio file -> melspectrogram."""
    from common.extractor import load_wav16k

    return melspectrogram(load_wav16k(path))
