"""F0 correlation / RMSE (svc_eval.py columns and the trainer's validation) and the validation score."""
import math

import numpy as np
import pytest

from common.metrics import f0_correlation_rmse, pitch_agreement


def test_f0_correlation_and_rmse():
    t = np.arange(300) / 100.0
    melody = 220.0 * 2 ** (np.sin(2 * np.pi * 0.5 * t) / 6)  # a phrase moving +-2 semitones
    corr, rmse = f0_correlation_rmse(melody, melody)
    assert corr == pytest.approx(1.0) and rmse == 0.0
    corr, rmse = f0_correlation_rmse(melody + 10.0, melody)  # same shape, 10 Hz sharp
    assert corr == pytest.approx(1.0) and rmse == pytest.approx(10.0)
    corr, _ = f0_correlation_rmse(440.0 - melody, melody)  # the melody turned upside down
    assert corr < 0.0
    assert math.isnan(f0_correlation_rmse(np.full(50, 200.0), np.full(50, 210.0))[0])  # flat: no shape
    asked = melody.copy()
    asked[250:] = 0.0
    score = pitch_agreement(melody * 2 ** (50 / 1200), asked)  # a quarter tone sharp, on the voiced frames
    assert score.f0_corr == pytest.approx(1.0, abs=1e-9)
    expected = np.sqrt(np.mean((melody[:250] * (2 ** (50 / 1200) - 1)) ** 2))
    assert score.f0_rmse == pytest.approx(expected)


def test_eval_report_has_the_f0_columns():
    from svc.eval_report import METRICS, csv_columns

    keys = [m.key for m in METRICS]
    assert "f0_corr" in keys and "f0_rmse" in keys
    assert {"f0_corr", "f0_rmse"} <= set(csv_columns([{"f0_corr": 0.9, "f0_rmse": 12.0}]))
