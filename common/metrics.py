"""How close a conversion came to what it was asked (pitch in cents, vector and frame similarity), in
pure numpy on features made by the extractors. Pitch tracks are 100 frames/s; 0 Hz marks an
unvoiced frame unless a voicing mask is given."""
from dataclasses import asdict, dataclass

import numpy as np

GROSS_CENTS = 50.0       # a frame off by more than a quarter tone counts as a gross pitch error
MIN_SECONDS = 0.5        # shorter audio gives too few frames for a speaker vector or a pitch figure
SILENCE_DBFS = -60.0     # audio whose RMS stays below this holds nothing to measure


class MetricError(ValueError):
    """Input that cannot be measured; the message says what and how to fix it."""


def check_measurable(wav, rate, what):
    """Raise MetricError when `wav` is too short or silent to measure; `what` names it (a file)."""
    wav = np.asarray(wav, dtype=np.float64)
    seconds = wav.size / float(rate)
    if seconds < MIN_SECONDS:
        raise MetricError(f"{what}: {seconds:.2f} s of audio, but measuring needs at least {MIN_SECONDS} s "
                          f"(speaker vectors and pitch need several frames). Use a longer clip.")
    rms = np.sqrt(np.mean(wav ** 2))
    if rms <= 10 ** (SILENCE_DBFS / 20):
        level = "digital silence" if rms == 0 else f"{20 * np.log10(rms):.0f} dBFS RMS"
        raise MetricError(f"{what}: the audio is silent ({level}, below {SILENCE_DBFS:.0f} dBFS): there is no "
                          f"voice to measure. Remove it from the inputs or check that the right file was given.")


def cents(f0, reference):
    return 1200.0 * np.log2(np.asarray(f0, dtype=np.float64) / np.asarray(reference, dtype=np.float64))


@dataclass
class PitchScore:
    median_cents: float          # median |error| over frames voiced in both (nan when none)
    mean_cents: float            # mean |error| over the same frames
    gross_rate: float            # share of those frames off by more than GROSS_CENTS
    voicing_disagreement: float  # share of all frames voiced in one track and not in the other
    frames: int                  # frames voiced in both
    f0_corr: float = float("nan")  # Pearson correlation of the two F0 tracks (Hz) on those frames
    f0_rmse: float = float("nan")  # root mean square of their difference in Hz on those frames

    def as_dict(self):
        return asdict(self)


def pitch_agreement(f0, asked, voiced=None, asked_voiced=None):
    """PitchScore of the sung track `f0` [T] against the `asked` track [T'] (Hz), cut to the shorter.
    `voiced` / `asked_voiced`: boolean masks (default F0 > 0); a conversion's asked track has no gaps
    (unvoiced stretches are bridged), so pass the source's voicing as `asked_voiced`."""
    f0, asked = np.asarray(f0, dtype=np.float64), np.asarray(asked, dtype=np.float64)
    voiced = f0 > 0 if voiced is None else np.asarray(voiced, dtype=bool)
    asked_voiced = asked > 0 if asked_voiced is None else np.asarray(asked_voiced, dtype=bool)
    frames = min(len(f0), len(asked), len(voiced), len(asked_voiced))
    if frames == 0:
        raise MetricError("pitch agreement of an empty track: nothing to compare.")
    f0, asked, voiced, asked_voiced = f0[:frames], asked[:frames], voiced[:frames], asked_voiced[:frames]
    asked_voiced &= asked > 0
    if not asked_voiced.any():
        raise MetricError("the asked pitch track has no voiced frame (silence or unpitched sound): there is no "
                          "melody to compare against. Evaluate sung material.")
    both = voiced & asked_voiced & (f0 > 0)
    disagreement = float(np.mean(voiced != asked_voiced))
    if not both.any():  # e.g. a model that sings nothing: no error figure, full disagreement shows it
        return PitchScore(float("nan"), float("nan"), float("nan"), disagreement, 0)
    error = np.abs(cents(f0[both], asked[both]))
    corr, rmse = f0_correlation_rmse(f0[both], asked[both])
    return PitchScore(float(np.median(error)), float(np.mean(error)), float(np.mean(error > GROSS_CENTS)),
                      disagreement, int(both.sum()), corr, rmse)


def f0_correlation_rmse(f0, reference):
    """(Pearson correlation, RMSE in Hz) of two F0 tracks over the same voiced frames: the F0CORR and
    F0RMSE of published SVC evaluations (e.g. Seed-VC's EVAL.md); the correlation is nan for a flat track."""
    f0, reference = np.asarray(f0, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if f0.size == 0:
        return float("nan"), float("nan")
    rmse = float(np.sqrt(np.mean((f0 - reference) ** 2)))
    a, b = f0 - f0.mean(), reference - reference.mean()
    norms = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return (float(np.sum(a * b) / norms) if norms > 1e-12 else float("nan")), rmse


def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise MetricError(f"cosine of vectors of different sizes ({a.size} and {b.size}): they come from "
                          f"different encoders.")
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        raise MetricError("cosine with an all-zero vector: it was made from silence or is damaged.")
    return float(a @ b / norms)


def frame_cosine(a, b):
    """Mean over frames of the cosine between row t of `a` [T, D] and row t of `b` [T', D] (same
    extractor, audio of the same length: frame t is the same moment); the longer one is cut."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise MetricError(f"frame cosine needs two [frames, width] matrices of one width, got {a.shape} "
                          f"and {b.shape}.")
    frames = min(len(a), len(b))
    if frames == 0:
        raise MetricError("frame cosine of an empty feature matrix: the audio was too short.")
    a, b = a[:frames], b[:frames]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)))
