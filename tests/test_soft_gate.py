import numpy as np

from svc.soft_gate import soft_gate
from svc.vad import silence_unvoiced


def test_soft_gate_keeps_breaths_and_turns_pauses_down_without_zeroing():
    sr, out_sr = 16000, 32000
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    sing = 0.5 * np.sin(2 * np.pi * 220 * t)
    breath = 0.01 * rng.standard_normal(sr // 2)              # ~ -37 dB below the singing
    pause = 1e-5 * rng.standard_normal(sr)
    ref = np.concatenate([sing, breath, pause, sing])
    svc = np.full(len(ref) * 2, 0.1, dtype=np.float32)         # the model's output: a steady level
    gated = soft_gate(ref, sr, svc, out_sr) / 0.1
    at = lambda seconds: gated[int(seconds * out_sr)]  # noqa: E731
    assert at(0.5) > 0.99 and at(1.25) > 0.99                  # singing and breath pass
    assert np.isclose(at(2.0), 10 ** (-40 / 20), rtol=1e-3)     # the pause: 40 dB down, not zero
    assert at(2.9) > 0.99                                       # open again before the next note
    assert np.abs(np.diff(gated)).max() < 0.01                  # glides: no step, no click
    # the old gate zeroes the pause
    assert silence_unvoiced(ref, sr, svc, out_sr)[int(2.0 * out_sr)] == 0
