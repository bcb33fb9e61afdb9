"""Validation figures beside the losses: does the generated audio sing the asked pitch, in the voice
of the item's speaker vector? (The full evaluation of finished models is svc_eval.py.)

Config (log.*): eval_pitch_method names the pitch tracker ("" skips the pitch figures),
eval_speaker_checkpoint the speaker encoder ("" or a missing file skips the similarity).
"""
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
        """{name: value} of one generated waveform (float [T] at `rate`), its asked F0 [frames] at
        100 Hz (0 = unvoiced) and its speaker vector; a figure that cannot be made is left out."""
        wav16k = resample(np.asarray(wav, dtype=np.float32), rate, EXTRACT_RATE)
        values = {}
        if self.pitch is not None:
            try:
                score = pitch_agreement(self.pitch.training(wav16k), asked_f0)
                values.update(pitch_cents=score.median_cents, voicing=score.voicing_disagreement)
            except ValueError:  # MetricError: an item with no voiced frame
                pass
        if self.speaker is not None:
            try:
                values["spk_sim"] = cosine(self.speaker(wav16k), spk)
            except ValueError:  # AudioError, MetricError: silent output
                pass
        return {k: v for k, v in values.items() if not math.isnan(v)}

    @staticmethod
    def mean(measures):
        """{name: mean over the items that have it}."""
        names = {k for m in measures for k in m}
        return {k: float(np.mean([m[k] for m in measures if k in m])) for k in sorted(names)}

