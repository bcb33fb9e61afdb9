"""A new timbre as the weighted mean of speaker vectors (.spk.npy): singer files are plain means of
d-vectors, so weights summing to 1 (others are normalised, with a note) keep a singer file's scale.
"""
import os

import numpy as np


class TimbreMixError(ValueError):
    """A bad weight or speaker file; the message names it and the fix."""


def parse_weighted_items(items):
    """['a.spk.npy:0.5', ...] -> [(path, weight)]; the weight follows the last ':'."""
    pairs = []
    for item in items:
        path, sep, weight = item.rpartition(":")
        if not sep or not path:
            raise TimbreMixError(f"'{item}': write each speaker as FILE:WEIGHT, e.g. singerA.spk.npy:0.5")
        try:
            pairs.append((path, float(weight)))
        except ValueError:
            raise TimbreMixError(f"'{item}': weight '{weight}' is not a number; write FILE:WEIGHT, "
                                 f"e.g. singerA.spk.npy:0.5") from None
    return pairs


def read_yaml_mapping(path, example):
    """(non-empty mapping, folder of the file) from a YAML file; `example` shows one entry in errors."""
    from omegaconf import OmegaConf

    if not os.path.isfile(path):
        raise TimbreMixError(f"{path}: weights file not found.")
    try:
        data = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as e:
        raise TimbreMixError(f"{path}: not a readable YAML file ({e}).") from None
    if not isinstance(data, dict) or not data:
        raise TimbreMixError(f"{path}: expected a mapping of speaker file to weight, e.g. {example!r} on each line.")
    return data, os.path.dirname(os.path.abspath(path))


def in_folder(folder, name):
    """A speaker file named in a weights or mix file: relative names are taken from that file's folder."""
    name = str(name).strip()
    return name if os.path.isabs(name) else os.path.join(folder, name)


def read_weight_yaml(path):
    """A YAML mapping `file: weight` -> [(path, weight)]; relative files are taken from the YAML's folder."""
    data, folder = read_yaml_mapping(path, "singerA.spk.npy: 0.5")
    pairs = []
    for name, weight in data.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TimbreMixError(f"{path}: the weight of {name} is '{weight}', not a number.")
        pairs.append((in_folder(folder, name), float(weight)))
    return pairs


def mix_timbres(pairs):
    """Weighted mean of the speaker vectors, weights normalised. Returns (float32 vector, notes)."""
    if not pairs:
        raise TimbreMixError("no speaker given: list FILE:WEIGHT pairs or --yaml weights.yaml")
    weights = np.array([w for _, w in pairs], dtype=np.float64)
    for (path, w) in pairs:
        if not np.isfinite(w) or w < 0:
            raise TimbreMixError(f"{path}: weight {w} is not allowed; weights must be finite and >= 0.")
    total = weights.sum()
    if total <= 0:
        raise TimbreMixError("all weights are zero: give at least one speaker a positive weight.")
    notes = []
    if abs(total - 1.0) > 1e-6:
        notes.append(f"weights sum to {total:g}, not 1: normalised to " +
                     ", ".join(f"{w / total:.4g}" for w in weights))
    vectors = load_vectors([path for path, _ in pairs])
    return sum(w / total * v for w, v in zip(weights, vectors)).astype(np.float32), notes


def load_vectors(paths):
    """Speaker vectors [len(paths), spk_dim] (float64), checked to share one shape."""
    vectors = []
    for path in paths:
        if not os.path.isfile(path):
            raise TimbreMixError(f"{path}: speaker file not found.")
        try:
            vec = np.asarray(np.load(path, allow_pickle=False))
        except Exception as e:
            raise TimbreMixError(f"{path}: not a .npy speaker vector ({e}). Use a .spk.npy from prepare/ "
                                 f"(speaker/ or singer/ folder).") from None
        if vec.dtype.kind not in "fiu" or vec.ndim != 1 or vec.size == 0:
            raise TimbreMixError(f"{path}: expected a 1-D vector of numbers, found shape {vec.shape} "
                                 f"{vec.dtype}.")
        if not np.all(np.isfinite(vec)):
            raise TimbreMixError(f"{path}: holds NaN or infinite values; extract it again.")
        if vectors and vec.shape != vectors[0].shape:
            raise TimbreMixError(f"{path}: shape {vec.shape} differs from {paths[0]} {vectors[0].shape}; "
                                 f"mix vectors made by the same speaker encoder.")
        vectors.append(vec.astype(np.float64))
    return np.stack(vectors)


def write_mix(pairs, out_path):
    """Mix and save atomically; returns notes for the user."""
    from common.atomic import save_npy

    mixed, notes = mix_timbres(pairs)
    save_npy(out_path, mixed)
    return notes
