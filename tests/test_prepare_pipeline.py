"""End to end: `svc_preprocessing.py -t 2` on a generated dataset with tiny model checkpoints.

Runs the real CLI in a subprocess three times: a full run, a second run that must do nothing,
and a run killed midway then restarted, which must end with the same files as the full run.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.tiny_hubert import make_checkpoint as make_hubert
from tests.tiny_speaker import make_checkpoint as make_speaker
from tests.tiny_whisper import make_checkpoint as make_whisper

pytestmark = pytest.mark.slow  # subprocesses / whole pipeline runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "svc_preprocessing.py")
TINY = os.path.join(ROOT, "tests", "tiny.yaml")

# (speaker, file, rate, seconds, f0, subtype, channels): formats, rates, channels and names vary
CLIPS = [
    ("alto", "a1.wav", 44100, 1.5, 330.0, "PCM_16", 2),
    ("alto", "take 2 é.flac", 22050, 1.2, 392.0, "PCM_24", 1),
    ("alto", "a3.ogg", 48000, 1.0, 440.0, "VORBIS", 1),
    ("tenor", "t1.wav", 16000, 1.3, 196.0, "FLOAT", 1),
    ("tenor", "t2 ñ.wav", 32000, 2.0, 220.0, "PCM_32", 2),
    ("tenor", "t3.flac", 24000, 1.0, 247.0, "PCM_16", 1),
]
GOOD = [(spk, os.path.splitext(name)[0]) for spk, name, *_ in CLIPS]


def sung_tone(sr, seconds, f0, seed):
    """Harmonic tone with 5.5 Hz vibrato, soft onsets and a little breath noise."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t))) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 9) if k * f0 < sr / 2)
    y = y * np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    y = y + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def make_dataset(root):
    for i, (spk, name, sr, seconds, f0, subtype, channels) in enumerate(CLIPS):
        os.makedirs(os.path.join(root, spk), exist_ok=True)
        y = sung_tone(sr, seconds, f0, i)
        if channels == 2:
            y = np.stack([y, 0.7 * y], axis=1)
        sf.write(os.path.join(root, spk, name), y, sr, subtype=subtype)
    with open(os.path.join(root, "tenor", "corrupt.wav"), "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(range(256)))
    sf.write(os.path.join(root, "alto", "silent.wav"), np.zeros(24000, np.float32), 16000)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("prep")
    ckpt = base / "ckpt"
    ckpt.mkdir()
    args = ["-t", "2", "--device", "cpu", "-c", TINY, "--crepe-model", "tiny", "--no-whisper-noise",
            "--whisper-checkpoint", str(make_whisper(str(ckpt / "whisper.pt"))),
            "--hubert-checkpoint", str(make_hubert(str(ckpt / "hubert.pt"))),
            "--speaker-checkpoint", str(make_speaker(str(ckpt / "speaker.pth.tar")))]
    raw = base / "raw"
    make_dataset(str(raw))
    return base, raw, args


def workdir(base, raw, name):
    folder = base / name
    shutil.copytree(raw, folder / "dataset_raw")
    return folder


def command(args):
    return [sys.executable, SCRIPT] + args


def env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")


def run(folder, args):
    proc = subprocess.run(command(args), cwd=folder, env=env(), capture_output=True, text=True, timeout=400)
    return proc


def tree(folder):
    """{relative path: mtime} of every output file (hidden bookkeeping files aside)."""
    out = {}
    for top in ("data_svc", "files"):
        for dirpath, _, files in os.walk(os.path.join(folder, top)):
            for name in files:
                if name.startswith("."):
                    continue
                path = os.path.join(dirpath, name)
                out[os.path.relpath(path, folder)] = os.stat(path).st_mtime_ns
    return out


def load_any(path):
    if path.endswith(".npy"):
        return np.load(path)
    if path.endswith(".pt"):
        return torch.load(path, weights_only=True).numpy()
    if path.endswith(".wav"):
        return sf.read(path, dtype="int16")[0]
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def full_run(setup):
    base, raw, args = setup
    folder = workdir(base, raw, "full")
    proc = run(folder, args)
    return folder, proc


def test_full_run_writes_every_feature_with_agreeing_lengths(full_run):
    folder, proc = full_run
    assert proc.returncode == 0, proc.stderr[-4000:]
    d = os.path.join(folder, "data_svc")
    for spk, name in GOOD:
        wav16 = sf.read(os.path.join(d, "waves-16k", spk, name + ".wav"), dtype="int16")[0]
        wav32, sr = sf.read(os.path.join(d, "waves-32k", spk, name + ".wav"), dtype="int16")
        assert sr == 32000 and wav16.ndim == 1 and wav32.ndim == 1
        n = len(wav16) // 160
        pitch = np.load(os.path.join(d, "pitch", spk, name + ".pit.npy"))
        ppg = np.load(os.path.join(d, "whisper", spk, name + ".ppg.npy"))
        vec = np.load(os.path.join(d, "hubert", spk, name + ".vec.npy"))
        spk_vec = np.load(os.path.join(d, "speaker", spk, name + ".spk.npy"))
        spec = torch.load(os.path.join(d, "specs", spk, name + ".pt"), weights_only=True)
        assert pitch.shape == (n,) and ppg.shape == (len(wav16) // 320, 16) and vec.shape == (len(wav16) // 320, 256)
        assert spk_vec.shape == (256,) and spec.shape == (513, len(wav32) // 320)
        assert abs(spec.shape[1] - n) <= 1 and abs(2 * ppg.shape[0] - n) <= 1
        assert np.median(pitch[pitch > 0]) > 150 and (pitch > 0).mean() > 0.5  # sung tones are voiced
    for spk in ("alto", "tenor"):
        assert np.load(os.path.join(d, "singer", spk + ".spk.npy")).shape == (256,)
    train = open(os.path.join(folder, "files", "train.txt"), encoding="utf-8").read().splitlines()
    valid = open(os.path.join(folder, "files", "valid.txt"), encoding="utf-8").read().splitlines()
    assert (len(train), len(valid)) == (5, 1)
    assert all(line.startswith("./data_svc/waves-32k/") and line.count("|") == 5 for line in train + valid)
    # the corrupt and the silent file are reported and left out everywhere
    assert "corrupt.wav: " in proc.stderr and "cannot read" in proc.stderr
    assert "silent.wav: silent" in proc.stderr
    assert not any("corrupt" in p or "silent" in p for p in tree(folder))
    assert "check: 6 item(s), 0 problem(s)" in proc.stderr


def test_second_run_does_nothing(setup, full_run):
    folder, first = full_run
    assert first.returncode == 0
    before = tree(folder)
    proc = run(folder, setup[2])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert tree(folder) == before
    assert " 0 written" in proc.stderr and "6 already done" in proc.stderr


def wait_for_first_pitch(proc, folder, timeout=300):
    """Until the run has written its first pitch file (step 2 under way) or has ended."""
    pitch_dir = os.path.join(folder, "data_svc", "pitch")
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if any(files for _, _, files in os.walk(pitch_dir)):
            return
        time.sleep(0.02)


def test_killed_run_restarts_to_identical_results(setup, full_run):
    base, raw, args = setup
    reference, first = full_run
    assert first.returncode == 0
    folder = workdir(base, raw, "killed")
    proc = subprocess.Popen(command(args), cwd=folder, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_first_pitch(proc, folder)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the run, its fork server and its workers
    proc.wait()
    partial = tree(folder)
    assert any(p.startswith(os.path.join("data_svc", "pitch")) for p in partial)
    assert not os.path.exists(os.path.join(folder, "files", "train.txt"))
    # what an interrupt in the middle of a write leaves: a temp file, and no output
    temp = os.path.join(folder, "data_svc", "pitch", "tenor", "t1.pit.tmp-k1ll3d.npy")
    os.makedirs(os.path.dirname(temp), exist_ok=True)
    with open(temp, "wb") as f:
        f.write(b"\x93NUMPY half")
    done = run(folder, args)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not os.path.exists(temp)
    expected, got = tree(reference), tree(folder)
    assert sorted(got) == sorted(expected)
    for rel in expected:
        a, b = load_any(os.path.join(reference, rel)), load_any(os.path.join(folder, rel))
        if isinstance(a, str):
            assert a == b, rel
        else:
            assert a.shape == b.shape and np.array_equal(a, b), rel


def test_ctrl_c_stops_with_one_line_and_no_traceback(setup):
    """Ctrl-C in a terminal signals the whole process group: the run, its fork server and its workers."""
    base, raw, args = setup
    folder = workdir(base, raw, "ctrl_c")
    proc = subprocess.Popen(command(args), cwd=folder, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    wait_for_first_pitch(proc, folder)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and "step 2 (pitch)" in lines[0] and "kept" in lines[0], err[-3000:]
    assert "run the same command again" in lines[0]
    with pytest.raises(ProcessLookupError):  # no worker or fork server left behind
        for _ in range(50):
            os.killpg(proc.pid, 0)
            time.sleep(0.1)


def test_wrong_dataset_folder_is_one_error(setup, tmp_path):
    _, _, args = setup
    (tmp_path / "dataset_raw").mkdir()
    (tmp_path / "dataset_raw" / "notes.txt").write_text("no audio here")
    proc = run(tmp_path, args + ["-w", str(tmp_path / "dataset_raw")])
    assert proc.returncode == 1
    problems = [line for line in proc.stderr.splitlines() if "could not run" in line or "error" in line.lower()]
    assert len(problems) == 1, proc.stderr
    assert "no audio files in <speaker> folders" in problems[0] and "Run step 1 first" not in proc.stderr
    missing = run(tmp_path, args + ["-w", str(tmp_path / "nowhere")])
    assert missing.returncode == 1 and "dataset folder not found" in missing.stderr
    assert "Run step 1 first" not in missing.stderr and missing.stderr.count("could not run") == 1
