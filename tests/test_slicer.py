import numpy as np
import pytest

from prepare.slicer import SliceError, piece_name, slice_ranges

SR = 16000


def phrases_with_pauses(seconds, seed=0):
    """Sung-like phrases (1-6 s, one of 17 s without a pause) between 0.2-1.5 s pauses of faint noise."""
    rng = np.random.default_rng(seed)
    wav, voiced = [], []
    while sum(len(w) for w in wav) < seconds * SR:
        long_one = len(wav) == 6
        n = int((17.0 if long_one else rng.uniform(1, 6)) * SR)
        t = np.arange(n) / SR
        note = 0.5 * np.sin(2 * np.pi * rng.uniform(150, 500) * t) * np.minimum(1, np.minimum(t, t[::-1]) * 50)
        wav += [note, 1e-4 * rng.standard_normal(int(rng.uniform(0.2, 1.5) * SR))]
        voiced += [np.abs(note) > 1e-3, np.zeros(len(wav[-1]), bool)]
    return np.concatenate(wav)[:seconds * SR], np.concatenate(voiced)[:seconds * SR]


def test_70s_recording_slices_into_short_pieces_covering_every_voiced_sample():
    wav, voiced = phrases_with_pauses(70)
    pieces = slice_ranges(wav, SR)
    lengths = np.array([end - start for start, end in pieces]) / SR
    assert len(pieces) >= 5
    assert lengths.max() <= 15.0 and lengths.min() >= 2.0
    assert all(a[1] <= b[0] for a, b in zip(pieces[:-1], pieces[1:]))  # in order, no overlap
    covered = np.zeros(len(wav), bool)
    for start, end in pieces:
        covered[start:end] = True
    assert covered[voiced].all()
    # the concatenation of the pieces is the recording minus (some of) its silence
    joined = np.concatenate([wav[s:e] for s, e in pieces])
    assert np.array_equal(joined, wav[covered])
    # cuts through sound happen only inside the 17 s phrase, which has no pause
    cuts_in_sound = [s for s, _ in pieces[1:] if voiced[s - 1] and voiced[s]]
    assert len(cuts_in_sound) <= 1


def test_short_recording_stays_whole_and_limits_are_checked():
    wav, _ = phrases_with_pauses(12)
    assert slice_ranges(wav, SR) == [(0, len(wav))]
    with pytest.raises(SliceError, match="30"):
        slice_ranges(wav, SR, max_seconds=40)
    with pytest.raises(SliceError, match="half"):
        slice_ranges(wav, SR, max_seconds=10, min_seconds=6)
    assert piece_name("song", 7) == "song_007"
