"""Synthetic sung material with known pitch, and a backing to mix under it (bench_pitch_robust.py).

The voice: additive harmonics (1/k source slope) shaped by vowel-like formant resonances that move
from note to note, phrases of notes with portamento and vibrato that sets in after the attack, a short
fricative noise before each phrase, rests between phrases. The backing: sustained chords in the
voice's own range (the hardest case: partials near the voice's), a plucked bass line, and drum-like
noise bursts (kick, snare, hi-hat). Everything is seeded: the same call gives the same samples.
"""
from dataclasses import dataclass

import numpy as np

SR = 16000
HOP = 160
# formants (Hz) and bandwidths of five vowels, roughly a soprano/tenor's /a e i o u/
VOWELS = [((800, 1150, 2900), (80, 90, 120)), ((400, 1600, 2700), (60, 80, 120)),
          ((300, 2300, 3000), (50, 100, 120)), ((450, 800, 2830), (70, 80, 100)),
          ((325, 700, 2530), (50, 60, 170))]
SCALE = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor, semitones above the tonic
TONIC = 196.0  # G3


@dataclass
class Material:
    voice: np.ndarray      # float32 [samples], peak ~0.5
    backing: np.ndarray    # float32 [samples], same length, unscaled
    f0: np.ndarray         # float64 [frames] Hz at frame i = sample i * 160 (0 where no voice)
    scored: np.ndarray     # bool [frames]: frames counted (not within 30 ms of a voicing change)

    def mix(self, backing_db):
        """voice + backing with the backing's RMS `backing_db` dB relative to the voice's (None: dry)."""
        if backing_db is None:
            return self.voice.copy()
        gain = _rms(self.voice) / max(_rms(self.backing), 1e-12) * 10 ** (backing_db / 20)
        mixed = self.voice + gain * self.backing
        return (0.9 * mixed / np.abs(mixed).max()).astype(np.float32)


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _note_hz(degree, octave=0):
    semis = SCALE[degree % len(SCALE)] + 12 * (degree // len(SCALE) + octave)
    return TONIC * 2 ** (semis / 12)


def _formant_gain(freq, formants, widths):
    """Magnitude of a cascade of two-pole resonators (a Klatt-style vowel filter): gain 1 at 0 Hz,
    ~F/B at each formant, falling above the last."""
    gain = np.ones_like(freq)
    for f, b in zip(formants, widths):
        gain /= np.sqrt((1 - (freq / f) ** 2) ** 2 + (freq * b / f ** 2) ** 2)
    return gain


def _melody(seconds, rng):
    """Per-sample f0 (0 in rests), amplitude envelope and vowel index, and fricative spans."""
    n = int(seconds * SR)
    f0, env, vowel = np.zeros(n), np.zeros(n), np.zeros(n, int)
    fricatives = []
    t = 0.25
    while t < seconds - 1.0:
        fricatives.append((t - 0.08, t))
        notes = rng.integers(3, 6)
        degree = int(rng.integers(0, 7))
        for _ in range(notes):
            length = float(rng.uniform(0.35, 0.8))
            a, b = int(t * SR), min(int((t + length) * SR), n)
            if b - a < SR // 10:  # the song ends here
                break
            hz = _note_hz(degree)
            local = np.arange(b - a) / SR
            depth = 0.45 * np.clip((local - 0.2) / 0.2, 0, 1)  # vibrato sets in after the attack (semitones)
            note = hz * 2 ** (depth * np.sin(2 * np.pi * 5.5 * local + rng.uniform(0, 6.3)) / 12)
            if f0[a - 1] > 0:  # portamento from the previous note over 50 ms
                glide = min(int(0.05 * SR), b - a)
                note[:glide] = f0[a - 1] * (note[glide - 1] / f0[a - 1]) ** (np.arange(glide) / glide)
            f0[a:b] = note
            env[a:b] = 1.0
            vowel[a:b] = rng.integers(0, len(VOWELS))
            degree = int(np.clip(degree + rng.integers(-3, 4), -2, 9))
            t += length
        t += float(rng.uniform(0.25, 0.45))  # a rest
    # 20 ms attack / release ramps on each phrase
    ramp = int(0.02 * SR)
    smooth = np.convolve(env, np.ones(ramp) / ramp, mode="same")
    return f0, smooth * (env > 0), vowel, fricatives


def _voice(f0, env, vowel, fricatives, rng):
    n = len(f0)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    formants = np.array([VOWELS[v][0] for v in vowel], dtype=np.float64)  # [n, 3]
    widths = np.array([VOWELS[v][1] for v in vowel], dtype=np.float64)
    # glide the formants between vowels over ~40 ms
    kernel = np.ones(640) / 640
    formants = np.stack([np.convolve(formants[:, i], kernel, mode="same") for i in range(3)], 1)
    x = np.zeros(n)
    for k in range(1, 48):
        freq = k * f0
        amp = _formant_gain(freq, formants.T, widths.T) / k * (freq < 7000)
        x += amp * np.sin(k * phase)
    x *= env
    x += 0.003 * rng.standard_normal(n) * env  # breath
    for a, b in fricatives:  # "s"/"sh": high-passed noise, unvoiced
        a, b = int(a * SR), int(b * SR)
        burst = np.diff(rng.standard_normal(b - a + 1)) * np.hanning(b - a)
        x[a:b] += 0.15 * burst
    return 0.5 * x / np.abs(x).max()


def _tone(hz, seconds, slope, decay, rng):
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for k in range(1, int(6000 / hz)):
        detune = 1 + 0.002 * rng.standard_normal()
        out += np.sin(2 * np.pi * k * hz * detune * t + rng.uniform(0, 6.3)) / k ** slope
    return out * np.exp(-t / decay) if decay else out


def _backing(seconds, rng):
    n = int(seconds * SR)
    chords, bass, drums = np.zeros(n), np.zeros(n), np.zeros(n)
    bar = 2.0
    progression = [(0, 2, 4), (5, 0, 2), (3, 5, 0), (4, 6, 1)]  # i - VI - iv - v
    for i, start in enumerate(np.arange(0, seconds, bar)):
        a = int(start * SR)
        chord = progression[i % len(progression)]
        length = min(int(bar * SR), n - a)
        pad = sum(_tone(_note_hz(d), bar, 1.3, 0, rng) for d in chord)
        fade = np.minimum(1, np.minimum(np.arange(length), length - np.arange(length)) / 400)
        chords[a:a + length] += pad[:length] * fade
        for beat in range(4):  # bass: the chord's root, two octaves down, plucked each beat
            b = int((start + beat * bar / 4) * SR)
            if b >= n:
                break
            pluck = _tone(_note_hz(chord[0], octave=-2), bar / 4, 1.0, 0.15, rng)
            bass[b:b + len(pluck)] += pluck[:n - b]
    beat_s = bar / 4
    for j, start in enumerate(np.arange(0, seconds, beat_s / 2)):
        a = int(start * SR)
        if j % 4 == 0:  # kick: a falling sine
            t = np.arange(int(0.15 * SR)) / SR
            hit = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t / 0.03)) * 0.03)) * np.exp(-t / 0.05)
        elif j % 4 == 2:  # snare: noise and a body tone
            t = np.arange(int(0.12 * SR)) / SR
            hit = (0.7 * rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * 185 * t)) * np.exp(-t / 0.04)
        else:  # hi-hat: high-passed noise
            t = np.arange(int(0.04 * SR)) / SR
            hit = 0.4 * np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.01)
        drums[a:a + len(hit)] += hit[:n - a]
    unit = lambda x: x / _rms(x)  # noqa: E731
    return unit(chords) + 0.7 * unit(bass) + 0.6 * unit(drums)


def make_material(seconds=8.0, seed=0):
    rng = np.random.default_rng(seed)
    f0, env, vowel, fricatives = _melody(seconds, rng)
    voice = _voice(f0, env, vowel, fricatives, rng)
    backing = _backing(seconds, rng)
    frames = len(voice) // HOP
    centres = np.arange(frames) * HOP
    voiced = env[centres] > 0.5
    truth = np.where(voiced, f0[centres], 0.0)
    change = np.flatnonzero(np.diff(voiced.astype(int))) + 1
    scored = np.ones(frames, bool)
    for c in change:
        scored[max(c - 3, 0):c + 3] = False
    return Material(voice.astype(np.float32), backing.astype(np.float32), truth, scored)
