import numpy as np
import pytest

from pitch.repair import describe, repair_f0
from pitch.smoothing import mean_filter

T = np.arange(300) * 0.01  # 3 s at 100 frames/s
VIBRATO = 220.0 * 2 ** (0.5 / 12 * np.sin(2 * np.pi * 5.5 * T))


def cents(a, b):
    return np.abs(1200 * np.log2(np.asarray(a, np.float64) / b))


def as_extracted(track):
    """The 5-frame mean filter the extractors apply, which turns a jump into ramps."""
    return mean_filter(track, 5)


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_planted_octave_jump_is_moved_back(factor):
    planted = VIBRATO.copy()
    planted[100:110] *= factor  # 100 ms one octave off
    fixed, repairs = repair_f0(as_extracted(planted))
    assert [(r.kind, r.octaves) for r in repairs] == [("octave", 1 if factor > 1 else -1)]
    assert 0.95 <= repairs[0].start <= 1.0 and 1.1 <= repairs[0].end <= 1.13
    err = cents(fixed, as_extracted(VIBRATO))
    assert err.max() < 20  # vibrato kept through the repaired span, ramps bridged
    assert np.all(err[:90] < 1e-3) and np.all(err[120:] < 1e-3)  # nothing else touched


def test_planted_30ms_glitch_is_bridged():
    planted = VIBRATO.copy()
    planted[200:203] *= 2 ** (7 / 12)  # 30 ms a fifth off
    extracted = as_extracted(planted)
    assert cents(extracted, as_extracted(VIBRATO)).max() > 300
    fixed, repairs = repair_f0(extracted)
    assert [r.kind for r in repairs] == ["glitch"]
    assert cents(fixed, as_extracted(VIBRATO)).max() < 50  # back on the vibrato line (straight across it)
    assert "glitch" in describe(repairs) and "1.98-2.07 s" in describe(repairs)


@pytest.mark.parametrize("held", [0.2, 0.5, 1.0])
def test_held_octave_leap_is_left_alone(held):
    leap = np.where((T >= 1.0) & (T < 1.0 + held), 2 * VIBRATO, VIBRATO)
    extracted = as_extracted(leap)
    fixed, repairs = repair_f0(extracted)
    assert repairs == [] and np.allclose(fixed, extracted, rtol=1e-6)
    assert describe(repairs) == "pitch repair: nothing to repair"


def test_fast_runs_and_leaps_between_notes_are_left_alone():
    semitones = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 0, 12, 0, 12, 0, 7, 0, 7]
    run = as_extracted(220.0 * 2 ** (np.repeat(semitones, 8) / 12))  # 80 ms notes
    fixed, repairs = repair_f0(run)
    assert repairs == [] and np.allclose(fixed, run, rtol=1e-6)


def test_unvoiced_frames_stay_and_training_contours_are_repaired():
    track = VIBRATO.copy()
    track[:20] = 0.0
    track[150:170] = 0.0  # a breath
    track[170:174] *= 2.0  # an octave error at the onset after it
    fixed, repairs = repair_f0(track)
    assert [r.kind for r in repairs] == ["octave"]
    assert np.all(fixed[track == 0] == 0)
    assert cents(fixed[170:174], VIBRATO[170:174]).max() < 1


def test_empty_and_all_unvoiced():
    for f0 in (np.zeros(0), np.zeros(50)):
        fixed, repairs = repair_f0(f0)
        assert repairs == [] and fixed.shape == f0.shape and fixed.dtype == np.float32
