"""The file suffixes of the features under the data root (default ./data_svc)."""
PITCH_SUFFIX = ".pit.npy"
PPG_SUFFIX = ".ppg.npy"
VEC_SUFFIX = ".vec.npy"
SPK_SUFFIX = ".spk.npy"
SPEC_SUFFIX = ".pt"


def is_wav(name):
    return name.lower().endswith(".wav")
