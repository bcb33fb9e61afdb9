"""The README's path with tiny checkpoints: prepare -> train -> export -> convert -> edit F0 CSV -> convert."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import tiny_hubert
import tiny_speaker
import tiny_whisper

pytestmark = pytest.mark.slow  # subprocesses / whole pipeline runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "tiny.yaml")


def sung(sr, seconds, f0, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / sr
    y = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) + 0.003 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def run(cwd, script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    ck = work / "ck"
    ck.mkdir()
    tiny_whisper.make_checkpoint(str(ck / "whisper.pt"))
    tiny_hubert.make_checkpoint(str(ck / "hubert.pt"))
    tiny_speaker.make_checkpoint(str(ck / "speaker.pt"))
    for speaker, base in (("alice", 220.0), ("bob", 150.0)):
        (work / "dataset_raw" / speaker).mkdir(parents=True)
        for i in range(2):
            sf.write(work / "dataset_raw" / speaker / f"take {i}.wav", sung(44100, 1.2 + 0.3 * i, base, i), 44100)
    return work


def test_readme_path_end_to_end(workdir):
    ck = workdir / "ck"
    extractors = ["--whisper-checkpoint", str(ck / "whisper.pt"), "--hubert-checkpoint", str(ck / "hubert.pt")]
    run(workdir, "svc_preprocessing.py", "-t", "2", "-c", TINY, "--crepe-model", "tiny",
        "--speaker-checkpoint", str(ck / "speaker.pt"), *extractors)
    assert (workdir / "files" / "train.txt").read_text().count("\n") >= 2
    assert (workdir / "data_svc" / "singer" / "alice.spk.npy").is_file()

    run(workdir, "svc_trainer.py", "-c", TINY, "-n", "e2e", "--max-steps", "1")
    checkpoints = sorted((workdir / "chkpt" / "e2e").glob("e2e_*.pt"))
    assert checkpoints

    run(workdir, "svc_export.py", "--config", TINY, "--checkpoint_path", str(checkpoints[-1]), "--out", "model.pth")

    source = workdir / "dataset_raw" / "bob" / "take 1.wav"
    convert = ["--config", TINY, "--model", "model.pth", "--spk", "data_svc/singer/alice.spk.npy",
               "--wave", str(source), *extractors, "--crepe-model", "tiny"]
    run(workdir, "svc_inference.py", *convert, "--out", "plain.wav")
    run(workdir, "pitch/inference.py", "-w", str(source), "-p", "pitch.csv", "--model", "tiny")

    # What Excel writes back in a European locale: BOM, ';', decimal commas, CRLF, trailing blanks.
    rows = (workdir / "pitch.csv").read_text().strip().splitlines()[1:]
    edited = ["\ufeffTime;F0"] + [f"{t.replace('.', ',')};{float(f) * 2:.2f}".replace(".", ",")
                                  for t, f in (r.split(",") for r in rows)]
    (workdir / "edited.csv").write_bytes(("\r\n".join(edited) + "\r\n\r\n").encode("utf-8"))
    seeded = ["--seed", "1", "--no-noise"]  # so only the pitch file can make these two differ
    run(workdir, "svc_inference.py", *convert, *seeded, "--pit", "pitch.csv", "--out", "from_csv.wav")
    run(workdir, "svc_inference.py", *convert, *seeded, "--pit", "edited.csv", "--out", "edited.wav")

    expected = sf.info(source).duration
    for name in ("plain.wav", "from_csv.wav", "edited.wav"):
        info = sf.info(workdir / name)
        assert info.samplerate == 32000 and info.subtype == "PCM_16"
        assert abs(info.duration - expected) <= 0.02
        audio, _ = sf.read(workdir / name)
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert not np.array_equal(sf.read(workdir / "from_csv.wav")[0], sf.read(workdir / "edited.wav")[0])
