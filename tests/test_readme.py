"""The README's first hour holds: a Quick start at the top that matches the code, one install command
(the one .ci/run runs) with the lock file, and the facts a new user asked for."""
import importlib.metadata as metadata
import os
import re

from packaging.requirements import Requirement

from common import download, paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def test_quick_start_is_the_first_section_and_uses_the_public_files():
    readme = read("README.md")
    first = re.findall(r"^## (.+)$", readme, flags=re.M)[0]
    assert first.startswith("Quick start")
    quick = section(readme, "## Quick start")
    assert "pip install -r requirements.txt -c constraints.txt" in quick
    assert "python svc_download.py" in quick
    pretrain = paths.SVC_PRETRAIN.replace(os.sep, "/")
    singer = download.GROUPS["singers"][0].target.replace(os.sep, "/")
    assert f"--model {pretrain}" in quick and f"--spk {singer}" in quick  # what svc_download.py fetches
    assert "--spk path/to/clip.wav" in quick and "--save-spk" in quick


def test_one_install_command_with_the_lock_file_in_readme_and_ci():
    command = "pip install -r requirements.txt -c constraints.txt"
    assert command in section(read("README.md"), "## Install")
    assert [line for line in read(".ci/run").splitlines() if line.startswith("pip ")] == [command]


def pins():
    lines = [line.split("#")[0].strip() for line in read("constraints.txt").splitlines()]
    return {Requirement(line).name.lower().replace("_", "-"): Requirement(line) for line in lines if line}


def test_constraints_pin_every_requirement_at_the_installed_version():
    locked = pins()
    assert str(locked["torch"].specifier) == "==2.13.0"
    for line in read("requirements.txt").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name = Requirement(line).name.lower().replace("_", "-")
        assert name in locked, f"{name} is not in constraints.txt: run python .ci/lock.py > constraints.txt"
        installed = metadata.version(name).split("+")[0]
        assert locked[name].specifier.contains(installed), (
            f"{name} {installed} is installed but constraints.txt says {locked[name].specifier}: after the suite "
            f"passes with it, run python .ci/lock.py > constraints.txt")


def test_readme_answers_the_first_hour_questions():
    readme = read("README.md")
    train = section(readme, "### 3. Train")
    assert "--max-steps" in train and "10000" in train
    assert "Preprocessing (step 6)" not in readme  # it pointed at the Excel section
    assert "`singer` step" in readme
    mix = [line for line in readme.splitlines() if "--spk-mix" in line and "|" in line][0]
    assert "relative to the mix file's own folder" in mix
    assert "NUMBA_CACHE_DIR" in readme


def test_preprocessing_pitch_default_is_fcpe_and_the_readme_says_why():
    import svc_preprocessing
    from prepare.cli_args import add_pitch
    from prepare.pipeline import Options

    assert Options().pitch_method == "fcpe"
    assert svc_preprocessing.build_parser().parse_args([]).pitch_method == "fcpe"
    import argparse

    step_tool = argparse.ArgumentParser()
    add_pitch(step_tool)  # prepare/preprocess_crepe.py's flags: the same default
    assert step_tool.parse_args([]).pitch_method == "fcpe"
    pitch = section(read("README.md"), "### Pitch: which method")
    assert "bench/bench_pitch_default.py" in pitch and "default of the preprocessing" in pitch
    assert "--pitch-method crepe" in pitch
