import numpy as np

from common.loudness import follow_envelope, integrated_loudness, loudness_gain, window_levels


def tone(seconds, sr, hz, envelope_db, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    noise = 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return (np.sin(2 * np.pi * hz * t) + noise) * 10 ** (envelope_db(t) / 20)


def test_levelling_hits_the_lufs_target_without_clipping():
    sr = 32000
    quiet = 0.3 * tone(3.0, sr, 220, lambda t: -20 + 6 * np.sin(2 * np.pi * t))
    gain, note = loudness_gain(quiet, sr, -20.0)
    assert note == ""
    assert abs(integrated_loudness(quiet * gain, sr) - (-20.0)) < 0.5
    assert np.max(np.abs(quiet * gain)) <= 0.99
    # a target only reachable by clipping stops at the ceiling and says so
    gain, note = loudness_gain(quiet, sr, 0.0)
    assert np.isclose(np.max(np.abs(quiet * gain)), 0.99) and "clip" in note


def test_loudness_mix_one_reproduces_the_source_envelope():
    src_sr, out_sr = 16000, 32000
    source = 0.5 * tone(4.0, src_sr, 200, lambda t: -12 * t / 4 - 6 * (np.sin(2 * np.pi * 1.5 * t) > 0), seed=1)
    model = 0.3 * tone(4.0, out_sr, 400, lambda t: -3 * np.cos(2 * np.pi * 0.7 * t), seed=2)
    want, before = window_levels(source, src_sr), window_levels(model, out_sr)
    assert np.abs(want - before).max() > 10  # the model's envelope starts far from the source's
    followed = follow_envelope(model, out_sr, source, src_sr, mix=1.0)
    assert len(followed) == len(model)
    assert np.abs(window_levels(followed, out_sr) - want).max() < 1.0
    half = follow_envelope(model, out_sr, source, src_sr, mix=0.5)
    assert np.abs(window_levels(half, out_sr) - (want + before) / 2).max() < 1.0
    assert np.array_equal(follow_envelope(model, out_sr, source, src_sr, mix=0.0), model.astype(np.float32))
