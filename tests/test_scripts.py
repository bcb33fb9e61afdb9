"""Scripts run from the repo root as the README shows, even with openai-whisper installed."""
import pytest
import os
import subprocess
import sys

import numpy as np
import soundfile as sf

import tiny_whisper

pytestmark = pytest.mark.slow  # subprocesses / whole pipeline runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fake_openai_whisper(folder):
    """A package named `whisper` that shadows ours if the scripts' import path is wrong."""
    package = folder / "whisper"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('this is openai-whisper, not the toolkit')\n")
    return str(folder)


def run(args, pythonpath, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_scripts_use_our_whisper_package_when_another_is_installed(tmp_path):
    shadow = fake_openai_whisper(tmp_path)
    wav = tmp_path / "in.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220), 16000)
    ckpt = tiny_whisper.make_checkpoint(str(tmp_path / "w.pt"))
    out = tmp_path / "out.ppg.npy"
    done = run(["whisper/inference.py", "-w", str(wav), "-p", str(out), "--checkpoint", ckpt, "--no-noise"], shadow)
    assert done.returncode == 0, done.stderr
    assert np.load(out).shape == (50, 16)
    for script in ("prepare/preprocess_ppg.py", "svc_inference.py", "svc_preprocessing.py", "svc_eval.py"):
        done = run([script, "--help"], shadow)
        assert done.returncode == 0 and "usage" in done.stdout, (script, done.stderr[-2000:])


def test_a_script_started_from_elsewhere_still_finds_the_toolkit(tmp_path):
    done = run([os.path.join(ROOT, "svc_eva.py"), "--help"], "", cwd=tmp_path)
    assert done.returncode == 0 and "usage" in done.stdout, done.stderr
