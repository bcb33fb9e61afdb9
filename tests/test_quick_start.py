"""README's Quick start followed literally (issue 27): its conversion commands, read from README.md and
run as written in a fresh copy of the repository, with the weights placed by hand where
svc_download.py puts them - the public file formats, random weights (the pretrain at the
configs/base.yaml sizes, the extractors small but of the widths base.yaml needs)."""
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from common import download, paths
from common.checkpoint import to_legacy_weight_norm
from tests import tiny_hubert, tiny_speaker, tiny_whisper
from tests.compat_manifest import load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Quick start commands that the test does not run, and what stands in for them
NOT_RUN = {"pip install -r requirements.txt -c constraints.txt": "this environment is installed already",
           "python svc_download.py": "the weights are placed by hand (no internet in tests)"}


def quick_start_commands():
    """The shell commands of README.md's Quick start block: continuation lines joined, comments dropped."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme[readme.index("## Quick start"):]
    section = section[:section.index("\n## ", 1)]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    return [" ".join(shlex.split(line, comments=True)) for line in lines if shlex.split(line, comments=True)]


def fresh_copy(dest):
    """The repository's files as a fresh clone has them (tracked and new, nothing git ignores: no weights)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = os.path.join(ROOT, name)
        if os.path.isfile(source):
            os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(source, os.path.join(dest, name))
    return dest


def random_pretrain(hp, path, seed=0):
    """sovits5.0.pretrain.pth as published: {'model_g' (training layout), 'model_d'}, legacy weight-norm
    names, every name and shape as tests/data/compat/sovits5_checkpoint.json; weights random, nudged so
    zero-initialised parts (speaker adapter) also shape the output."""
    from vits.models import SynthesizerTrn
    from vits_decoder.discriminator import Discriminator

    manifest = load_manifest("sovits5_checkpoint")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        parts = {"model_g": SynthesizerTrn.from_hparams(hp), "model_d": Discriminator(hp)}
        ckpt = {}
        for part, net in parts.items():
            state = to_legacy_weight_norm(net.state_dict())
            assert [(k, list(v.shape)) for k, v in state.items()] == [
                (k, list(s)) for k, s in manifest["model_g_training" if part == "model_g" else part]]
            ckpt[part] = {k: v + 0.02 * torch.randn_like(v) if v.is_floating_point() and "filter" not in k else v
                          for k, v in state.items()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(ckpt, path)


def sung(path, seconds=2.0, rate=44100, base_hz=220.0):
    """A gliding harmonic tone with a pause, as a vocal take."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = base_hz * 2 ** (0.3 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = (np.sin(2 * np.pi * 0.4 * t) > -0.8).astype(np.float32)
    wav = voiced * sum(0.25 / k * np.sin(k * phase) for k in range(1, 6))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    sf.write(path, wav.astype(np.float32), rate)


def place_weights(repo, base_hp):
    """Every file the Quick start reads, where svc_download.py puts it (its registry says where)."""
    ppg_dim = int(base_hp.vits.ppg_dim)  # 1280: Whisper large-v2's width, one layer instead of 32
    tiny_whisper.make_checkpoint(mkdirs(repo, paths.WHISPER_CKPT), n_audio_state=ppg_dim, n_audio_head=20,
                                 n_audio_layer=1)
    tiny_hubert.make_checkpoint(mkdirs(repo, paths.HUBERT_CKPT))
    tiny_speaker.make_checkpoint(mkdirs(repo, paths.SPEAKER_CKPT))
    random_pretrain(base_hp, mkdirs(repo, paths.SVC_PRETRAIN))
    singer = np.random.default_rng(1).standard_normal(int(base_hp.vits.spk_dim)).astype(np.float32)
    np.save(mkdirs(repo, download.GROUPS["singers"][0].target), singer / np.linalg.norm(singer))


def mkdirs(repo, relative):
    path = os.path.join(repo, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def test_quick_start_lists_the_commands_this_test_runs():
    commands = quick_start_commands()
    assert [c for c in commands if not c.startswith("python svc_inference.py")] == list(NOT_RUN)
    conversions = [c for c in commands if c.startswith("python svc_inference.py")]
    assert len(conversions) == 2 and "--spk path/to/clip.wav" in conversions[1]


@pytest.mark.slow
def test_quick_start_converts_as_written(base_hp, tmp_path):
    repo = fresh_copy(str(tmp_path / "svc"))
    place_weights(repo, base_hp)
    sung(os.path.join(repo, "test.wav"))
    sung(os.path.join(repo, "path", "to", "clip.wav"), seconds=3.0, base_hz=300.0)
    out = os.path.join(repo, "svc_out.wav")
    conversions = [c for c in quick_start_commands() if c not in NOT_RUN]
    for command in conversions:
        argv = shlex.split(command)
        assert argv[0] == "python"
        if os.path.exists(out):
            os.remove(out)
        run = subprocess.run([sys.executable] + argv[1:], cwd=repo, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, (command, run.stdout, run.stderr[-3000:])
        wav, rate = sf.read(out)
        assert rate == base_hp.data.sampling_rate and abs(len(wav) / rate - 2.0) < 0.05, (command, len(wav), rate)
        assert np.isfinite(wav).all() and np.abs(wav).max() > 1e-3, command
        assert "Traceback" not in run.stderr, run.stderr
        made = "speaker vector made from 1 clip (path/to/clip.wav)" in run.stderr
        assert made == ("--spk path/to/clip.wav" in command), run.stderr  # the clip's d-vector, made on the fly
