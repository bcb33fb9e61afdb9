"""Timbre that changes over time (so-vits-svc 4.1's dynamic voice mixing): a mix file gives, per
speaker vector, its weight as (seconds, weight) points, linear between them and held outside. YAML:

    singerA.spk.npy: [[0, 1.0], [12.5, 0.0]]    # fades out between 0 and 12.5 s
    singerB.spk.npy: [[0, 0.0], [12.5, 1.0]]    # fades in
    singerC.spk.npy: 0.2                        # a constant weight

or CSV, one column per speaker file after a `time` column:

    time,singerA.spk.npy,singerB.spk.npy
    0,1,0
    12.5,0,1

Each frame's weights are made convex, so its vector is a weighted mean of singer vectors, on the scale
the model was trained on. Relative file names are taken from the mix file's folder.
"""
import csv
import os

import numpy as np

from svc.timbre_mix import TimbreMixError, in_folder, load_vectors, read_yaml_mapping


def _check_points(path, name, points):
    """[(time, weight)] sorted by time, validated."""
    if isinstance(points, (int, float)) and not isinstance(points, bool):
        points = [[0.0, points]]
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise TimbreMixError(f"{path}: the curve of {name} must be a weight or a list of [seconds, weight] "
                             f"points, e.g. [[0, 1.0], [10, 0.0]]; got {points!r}.")
    if not np.all(np.isfinite(array)) or (array[:, 1] < 0).any():
        raise TimbreMixError(f"{path}: the curve of {name} holds a negative or non-finite value; weights "
                             f"must be >= 0 and times finite.")
    if (np.diff(array[:, 0]) < 0).any():
        raise TimbreMixError(f"{path}: the times of {name} go backwards; list its points in time order.")
    return array


def read_csv_curves(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    if len(rows) < 2 or len(rows[0]) < 2 or rows[0][0].strip().lower() != "time":
        raise TimbreMixError(f"{path}: expected a header 'time,<speaker file>,...' and one row of weights "
                             f"per time point.")
    try:
        table = np.array([[float(cell) for cell in row] for row in rows[1:]], dtype=np.float64)
    except ValueError as e:
        raise TimbreMixError(f"{path}: {e}; every cell below the header must be a number.") from None
    if table.shape[1] != len(rows[0]):
        raise TimbreMixError(f"{path}: some rows have a different number of cells than the header.")
    folder = os.path.dirname(os.path.abspath(path))
    return [(in_folder(folder, name), _check_points(path, name, table[:, [0, col]]))
            for col, name in enumerate(rows[0][1:], start=1)]


class SpeakerMix:
    """A .yaml/.yml or .csv mix file loaded once: `curves` [(speaker file, points [K, 2] of (seconds,
    weight))] and their `vectors`; `frames(n, frame_rate)` gives the per-frame vectors [n, spk_dim]."""

    def __init__(self, path):
        self.path = path = os.fspath(path)
        if not os.path.isfile(path):
            raise TimbreMixError(f"{path}: speaker mix file not found.")
        if path.lower().endswith(".csv"):
            self.curves = read_csv_curves(path)
        else:
            data, folder = read_yaml_mapping(path, "singerA.spk.npy: [[0, 1.0], [10, 0.0]]")
            self.curves = [(in_folder(folder, name), _check_points(path, name, points))
                           for name, points in data.items()]
        self.vectors = load_vectors([path for path, _ in self.curves])   # [S, spk_dim]

    def check_width(self, spk_dim):
        width = self.vectors.shape[1]
        if width != spk_dim:
            raise TimbreMixError(f"{self.path}: its speaker vectors are {width}-wide but the model's are "
                                 f"{spk_dim}-wide (vits.spk_dim); mix vectors of this model's speaker encoder.")

    def frames(self, count, frame_rate):
        """Each curve sampled at frame starts, made convex, times the vectors: [count, spk_dim]."""
        times = np.arange(count) / float(frame_rate)
        weights = np.stack([np.interp(times, p[:, 0], p[:, 1]) for _, p in self.curves], axis=1)  # [count, S]
        total = weights.sum(axis=1, keepdims=True)                           # [count, 1]
        empty = np.flatnonzero(total[:, 0] <= 0)
        if len(empty):
            raise TimbreMixError(f"{self.path}: every weight is 0 at {times[empty[0]]:.2f} s; give some "
                                 f"speaker a positive weight there.")
        return (weights / total @ self.vectors).astype(np.float32)           # [count, spk_dim]
