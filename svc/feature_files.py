"""Feature inputs of a conversion: read, check and line up PPG, units, pitch and speaker vector."""
import os

import numpy as np

from common.extractor import fit_frames

# Largest magnitudes a model ever sees: Whisper PPG and HuBERT units stay within tens (layer-normed
# encoder outputs), speaker vectors within 1 (unit length). Far beyond is a damaged or foreign file,
# and the model would turn it into NaN or silence.
FEATURE_LIMIT = 1e4
SPEAKER_LIMIT = 100.0
MAX_F0 = 20000.0   # Hz; no voice (or whistle) reaches it

# 100 Hz frames by which a feature may differ from the audio length and still be lined up
LENGTH_TOLERANCE = 8
# content feature -> (what messages call it, how to make a fitting one)
CONTENT = {"ppg": ("PPG", "It was made with another Whisper size (large-v2 gives 1280): extract it again "
                          "with the matching Whisper checkpoint"),
           "vec": ("HuBERT units", "Extract it again with HuBERT-Soft (hubert/inference.py)")}


class FeatureError(ValueError):
    """A feature file or array that does not fit the model; the message names it and the fix."""


def load_npy(path, kind, fix="or leave the option out to extract it"):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FeatureError(f"{kind} file not found: {path}. Check the path, {fix}.")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise FeatureError(f"{path}: not a readable .npy {kind} ({e}). Extract it again.") from None


def check_content(array, key, width, name):
    """PPG ("ppg") or units ("vec") as float32 [N, width] with finite values, else FeatureError."""
    kind, fix = CONTENT[key]
    fix += f", or use the config the model was trained with (vits.{key}_dim = {width})."
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.kind not in "fiu":
        raise FeatureError(f"{name}: expected a {kind} matrix [frames, {width}], found shape {array.shape} "
                           f"{array.dtype}. {fix}")
    if array.shape[1] != width:
        raise FeatureError(f"{name}: {kind} width is {array.shape[1]} but the model expects {width}. {fix}")
    if array.shape[0] == 0:
        raise FeatureError(f"{name}: the {kind} has no frames; the audio is too short or the file is empty.")
    if not np.all(np.isfinite(array)):
        raise FeatureError(f"{name}: the {kind} holds NaN or infinite values. Extract it again.")
    check_magnitude(array, FEATURE_LIMIT, name, kind, "Extract it again.")
    return array.astype(np.float32)


def check_magnitude(array, limit, name, kind, fix):
    peak = float(np.abs(array).max()) if np.size(array) else 0.0
    if peak > limit:
        raise FeatureError(f"{name}: the {kind} holds values up to {peak:.3g}, far beyond the {limit:g} a model ever "
                           f"sees: the file is damaged or not a {kind}. {fix}")


def check_speaker(vector, spk_dim, name):
    vector = np.asarray(vector)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    fix = ("Use a singer vector from data_svc/singer/<name>.spk.npy (or svc_eva.py output) made by the "
           "speaker encoder of this model, or give --spk the singer's audio (a clip or a folder of clips).")
    if vector.ndim != 1 or vector.dtype.kind not in "fiu":
        raise FeatureError(f"{name}: expected a speaker vector [{spk_dim}], found shape {vector.shape} {vector.dtype}. {fix}")
    if vector.shape[0] != spk_dim:
        raise FeatureError(f"{name}: speaker vector has {vector.shape[0]} values but the model expects "
                           f"{spk_dim} (vits.spk_dim). {fix}")
    if not np.all(np.isfinite(vector)):
        raise FeatureError(f"{name}: the speaker vector holds NaN or infinite values. {fix}")
    check_magnitude(vector, SPEAKER_LIMIT, name, "speaker vector", fix)
    return vector.astype(np.float32)


def load_speaker(path, spk_dim):
    fix = "or give the singer's audio instead (a clip or a folder of clips: the vector is made from it)"
    return check_speaker(load_npy(path, "speaker vector", fix), spk_dim, path)


def check_f0(f0, name):
    f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    if f0.size == 0:
        raise FeatureError(f"{name}: the pitch curve is empty.")
    if not np.all(np.isfinite(f0)) or (f0 < 0).any():
        raise FeatureError(f"{name}: pitch values must be finite Hz >= 0 (0 = unvoiced).")
    if f0.max() > MAX_F0:
        raise FeatureError(f"{name}: pitch values reach {f0.max():.3g} Hz, beyond any voice (at most {MAX_F0:g} Hz): "
                           f"the column holds something else (e.g. time in ms or a sample index).")
    return f0.astype(np.float32)


def line_up(features, frames=None):
    """Trim / edge-pad every array of {name: array [T, ...]} to `frames` (default: the shortest): lengths
    that differ by a few frames (the extractors' rounding) are fine, more means another audio file."""
    if frames is None:
        frames = min(len(a) for a in features.values())
    out = {}
    for name, array in features.items():
        if abs(len(array) - frames) > LENGTH_TOLERANCE:
            raise FeatureError(
                f"{name}: {len(array)} frames at 100 Hz ({len(array) / 100:.2f} s) but the input needs "
                f"{frames} ({frames / 100:.2f} s): it was made from another audio file. Extract it again "
                f"from the same audio, or leave the option out to extract it in-process.")
        out[name] = fit_frames(array, frames)  # [T] or [T, C], never empty (the checks refuse that)
    return out
