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


def test_score_folds_the_figures_as_documented():
    from vits.valid_metrics import validation_score

    weights = {"mel": 1.0, "pitch_cents": 0.01, "f0_corr": 1.0, "f0_rmse": 0.01, "spk_sim": 2.0}
    figures = {"mel": 0.5, "pitch_cents": 30.0, "f0_corr": 0.9, "f0_rmse": 12.0, "spk_sim": 0.8, "voicing": 0.1}
    assert validation_score(figures, weights) == pytest.approx(0.5 + 0.3 + 0.1 + 0.12 + 0.4)
    assert validation_score({"mel": 0.5}, weights) == pytest.approx(0.5)  # figures not measured are left out
    assert validation_score({"mel": 0.5, "f0_corr": float("nan")}, weights) == pytest.approx(0.5)


def test_done_signal_needs_patience_and_a_falling_training_mel():
    from vits.valid_metrics import DoneSignal

    done = DoneSignal(patience=2)
    assert done.update(1.0, 10, train_mel=3.0) == (True, False)
    assert done.update(0.8, 20, train_mel=2.5) == (True, False)
    assert done.update(0.9, 30, train_mel=2.4) == (False, False)
    assert done.update(0.85, 40, train_mel=2.6) == (False, False)  # no better, but training mel rose too
    assert done.update(0.9, 50, train_mel=2.0) == (False, True)
    assert (done.best, done.best_step) == (0.8, 20)
    assert DoneSignal(patience=0).update(1.0, 1, 1.0) == (True, False)


@pytest.mark.slow
def test_overfitting_run_writes_best_and_says_the_voice_is_done(tmp_path, monkeypatch):
    """Training on one short clip at a high learning rate while validating on another singer's
    clip: the training mel keeps falling, the validation score stops improving. best.pt holds the
    best evaluation's step and score; the message names it; --stop-when-done stops there."""
    import os

    from omegaconf import OmegaConf

    from common.checkpoint import load_checkpoint
    from tests.train_synthetic import FAST, TINY, write_item
    from vits.train import TrainOptions, train
    from vits.train_utils import TRAINING_KEYS

    monkeypatch.chdir(tmp_path)
    hp = OmegaConf.merge(OmegaConf.load(TINY), FAST, {
        "train": {"batch_size": 1, "learning_rate": 5e-3, "c_mel": 10.0, "min_seconds": 0.01, "patience": 3},
        "data": {"training_files": "one.txt", "validation_files": "valid.txt"},
        "log": {"eval_interval": 1}})
    rng = np.random.default_rng(0)
    spk_a, spk_b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 256)).astype(np.float32))
    (tmp_path / "one.txt").write_text(write_item(str(tmp_path), "a", "train", 0.06, 220.0, spk_a, hp, rng) + "\n")
    (tmp_path / "valid.txt").write_text(write_item(str(tmp_path), "b", "held", 0.5, 330.0, spk_b, hp, rng) + "\n")
    config = str(tmp_path / "config.yaml")
    OmegaConf.save(hp, config)

    trainer = train(TrainOptions(config=config, name="fit", device="cpu", max_steps=60, stop_when_done=True))
    log = (tmp_path / "logs" / "fit" / "train.log").read_text()
    best_path = os.path.join("chkpt", "fit", "best.pt")
    assert "The voice looks done" in log and best_path in log, log[-3000:]
    assert trainer.stop_reason == "the voice is done (--stop-when-done)" and trainer.step < 60
    best = load_checkpoint(tmp_path / best_path)
    assert set(TRAINING_KEYS) <= set(best) and best["step"] == trainer.done.best_step < trainer.step
    assert best["score"] == pytest.approx(trainer.done.best)
    assert trainer.done.since_best >= 3
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = EventAccumulator(str(tmp_path / "logs" / "fit")).Reload().Tags()["scalars"]
    assert {"valid/score", "valid/best_score", "valid/best_step"} <= set(scalars)
