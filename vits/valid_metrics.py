"""Validation figures beside the losses (does the output sing the asked pitch, in the item's voice?)
and the score they fold into (is the voice still getting better?). Finished models: svc_eval.py.

The validation score (lower is better) of one evaluation, over its validation items:

    score = w_mel * mel                  validation mel L1 (the public loss's log-mel)
          + w_pitch_cents * cents        median pitch error in cents (100 = a semitone)
          + w_f0_corr * (1 - f0_corr)    F0 correlation with the asked pitch (1 = same shape)
          + w_f0_rmse * f0_rmse          F0 RMSE in Hz
          + w_spk_sim * (1 - spk_sim)    cosine of the output's d-vector to the item's speaker

Defaults 1, 0.01, 1, 0.01, 2: a semitone off costs as much as a mel L1 of 1, a voice half-way to
another speaker's (cosine 0.5) as much as that too. A figure that is not measured (no pitch
tracker or speaker encoder configured) is left out, the same way at every evaluation of a run.
"""
import contextlib
import math
import os

import numpy as np

from common.audio import EXTRACT_RATE, resample
from common.metrics import cosine, pitch_agreement


class ValidMetrics:
    """Loaded once per training run; `measure()` per validation item, `mean()` over them."""

    def __init__(self, hp, device, warn=print):
        method, checkpoint = hp.log.eval_pitch_method, hp.log.eval_speaker_checkpoint
        self.pitch = self.speaker = None
        if method:
            from pitch.extractor import PitchExtractor

            self.pitch = PitchExtractor(method=method, device=device)
        if checkpoint and os.path.isfile(checkpoint):
            from speaker.encoder import SpeakerEncoder

            self.speaker = SpeakerEncoder(checkpoint, device=device)
        elif checkpoint:
            warn(f"log.eval_speaker_checkpoint {checkpoint} not found: valid/spk_sim is not logged "
                 f"(python svc_download.py fetches it, or set the key to \"\").")

    @property
    def enabled(self):
        return self.pitch is not None or self.speaker is not None

    def measure(self, wav, rate, asked_f0, spk):
        """{name: value} of one generated waveform (float [T] at `rate`), given its asked F0 [frames]
        at 100 Hz and its speaker vector; a figure that cannot be made is left out."""
        wav16k = resample(np.asarray(wav, dtype=np.float32), rate, EXTRACT_RATE)
        values = {}
        if self.pitch is not None:
            with contextlib.suppress(ValueError):  # MetricError: an item with no voiced frame
                score = pitch_agreement(self.pitch.training(wav16k), asked_f0)
                values.update(pitch_cents=score.median_cents, voicing=score.voicing_disagreement,
                              f0_corr=score.f0_corr, f0_rmse=score.f0_rmse)
        if self.speaker is not None:
            with contextlib.suppress(ValueError):  # AudioError, MetricError: silent output
                values["spk_sim"] = cosine(self.speaker(wav16k), spk)
        return {k: v for k, v in values.items() if not math.isnan(v)}

    @staticmethod
    def mean(measures):
        """{name: mean over the items that have it}."""
        names = {k for m in measures for k in m}
        return {k: float(np.mean([m[k] for m in measures if k in m])) for k in sorted(names)}


def validation_score(figures, weights):
    """The documented score (module docstring) of one evaluation's mean figures; lower is better."""
    total = 0.0
    for name in ("mel", "pitch_cents", "f0_corr", "f0_rmse", "spk_sim"):
        weight = float(weights[name]) if name in weights else 0.0
        if weight and name in figures and math.isfinite(figures[name]):
            value = float(figures[name])
            total += weight * (1.0 - value if name in ("f0_corr", "spk_sim") else value)
    return total


class DoneSignal:
    """Tracks the validation score: has it improved (write best.pt), and has it stopped improving
    for `patience` evaluations while the training mel loss still falls (likely overfitting)?"""

    def __init__(self, patience, best=None, best_step=None):
        self.patience = int(patience or 0)
        self.best, self.best_step = best, best_step
        self.since_best = 0
        self.train_mel_at_best = None
        self.announced = False

    def update(self, score, step, train_mel):
        """(improved, done) after an evaluation with `score` at `step`; `train_mel` is the mean
        training mel loss since the previous evaluation (None when unknown)."""
        if self.best is None or score < self.best:
            self.best, self.best_step, self.since_best = float(score), int(step), 0
            self.train_mel_at_best = train_mel
            return True, False
        self.since_best += 1
        falling = train_mel is not None and (self.train_mel_at_best is None or train_mel < self.train_mel_at_best)
        return False, bool(self.patience) and self.since_best >= self.patience and falling
