"""The one config reader (common/config.py) and its schema; the shared CLI flags and error line."""
import argparse
import copy
import glob
import os
import re

import pytest
import yaml
from omegaconf import OmegaConf

from common.cli import add_device_argument, report_errors
from common.config import KEYS, SECTIONS, UNUSED, ConfigError, config_from, load_config
from common.config_schema import SvcConfig
from tests.compat_manifest import load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "configs", "base.yaml")
PUBLIC = os.path.join(ROOT, "tests", "data", "public_base.yaml")


def raw(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def write(tmp_path, data, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if isinstance(data, dict) else data, encoding="utf-8")
    return str(path)


def edited(change):
    data = raw(BASE)
    change(data)
    return data


def test_public_base_yaml_loads_unchanged_with_the_public_values():
    hp = load_config(PUBLIC)
    public = copy.deepcopy(load_manifest("sovits5_checkpoint")["hyper_parameters"])
    public["mrd"]["resolutions"] = [[1024, 120, 600], [2048, 240, 1200], [4096, 480, 2400], [512, 50, 240]]
    for section, keys in public.items():
        assert {k: OmegaConf.to_container(hp[section])[k] for k in keys} == keys, section
    # what the public file leaves out takes the public model's values
    assert hp.mpd.channels == [64, 128, 256, 512, 1024] and hp.mrd.channels == 32 and hp.train.amp == "none"


def test_base_yaml_holds_the_schema_defaults():
    # a new key needs only its line in the schema; configs/base.yaml may show it, with the same value
    assert OmegaConf.to_container(load_config(BASE)) == OmegaConf.to_container(OmegaConf.structured(SvcConfig))
    assert load_config(os.path.join(ROOT, "tests", "tiny.yaml")).vits.hidden_channels == 8


def test_types_are_the_schemas():
    hp = load_config(BASE)
    assert isinstance(hp.train.learning_rate, float) and isinstance(hp.train.c_stft, float)  # "5e-5", 9
    assert hp.mrd.resolutions[0] == [1024, 120, 600] and hp.mpd.use_spectral_norm is False
    with pytest.raises(Exception):
        hp.train.batchsize  # reading a key that does not exist is an error too


@pytest.mark.parametrize("change, message", [
    (lambda d: d["train"].update(batchsize=4), "train.batchsize: unknown key (did you mean train.batch_size?)"),
    (lambda d: d["train"].update(hop_length=4), "train.hop_length: unknown key (did you mean data.hop_length?)"),
    (lambda d: d.update(trian=d.pop("train")), "trian: unknown key (did you mean train?)"),
    (lambda d: d["log"].update(zzz=1), "log.zzz: unknown key (see common/config_schema.py for the valid keys)"),
    (lambda d: d["train"].update(epochs="ten"), "train.epochs: expected an integer, got 'ten'"),
    (lambda d: d["train"].update(betas=0.8), "train.betas: expected a list of numbers, got 0.8"),
    (lambda d: d["gen"].update(resblock_dilation_sizes=[1, 3]),
     "gen.resblock_dilation_sizes: expected a list of lists of integers, got [1, 3]"),
    (lambda d: d["mpd"].update(use_spectral_norm="maybe"), "mpd.use_spectral_norm: expected true or false"),
    (lambda d: d.update(data=3), "data: expected a section of keys, got 3"),
    (lambda d: d.pop("dist_config"), "missing section dist_config (see configs/base.yaml)"),
    (lambda d: d["mrd"].update(resolutions="[(512, 50)]"), "mrd.resolutions: expected a list of (n_fft, hop, win)"),
    (lambda d: d["mrd"].update(resolutions="__import__('os').getcwd()"), "mrd.resolutions: expected a list"),
    (lambda d: d["gen"].update(upsample_input="${vits.nothing}"), "gen.upsample_input: Interpolation key 'vits.no"),
])
def test_a_bad_key_or_value_is_one_line_naming_file_and_key(tmp_path, change, message):
    path = write(tmp_path, edited(change))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)


def test_files_that_are_no_model_config(tmp_path):
    # a speaker encoder's config.json: JSON with comments, which YAML cannot read
    speaker_json = write(tmp_path, '{\n  "model": "lstm",\n  // audio\n  "audio": {"fft": 512}\n}\n', "config.json")
    with pytest.raises(ConfigError, match=r"config\.json: not valid YAML: .*\(line 4\)\. --config takes"):
        load_config(speaker_json)
    with pytest.raises(ConfigError, match="other.yaml: not a model config: it has none of the sections train, data"):
        load_config(write(tmp_path, {"audio": {"fft_size": 512}}, "other.yaml"))
    with pytest.raises(FileNotFoundError, match="configs/base.yaml"):
        load_config(tmp_path / "none.yaml")


def test_resolutions_string_or_list_and_empty_sections():
    both = [config_from(edited(lambda d: d["mrd"].update(resolutions=r))).mrd.resolutions
            for r in ("[(512, 50, 240), (1024, 120, 600)]", [[512, 50, 240], (1024, 120, 600)])]
    assert both[0] == both[1] == [[512, 50, 240], [1024, 120, 600]]
    assert config_from(edited(lambda d: d.update(log=None))).log.save_interval == 5  # `log:` alone: defaults
    linked = config_from(edited(lambda d: d["gen"].update(upsample_input="${vits.inter_channels}")))
    assert linked.gen.upsample_input == 192


def test_unused_keys_are_not_read_and_the_others_are():
    code = ""
    for path in glob.glob(os.path.join(ROOT, "**", "*.py"), recursive=True):
        rel = os.path.relpath(path, ROOT)
        if not rel.startswith(("tests", "common" + os.sep + "config")):
            code += open(path, encoding="utf-8").read()
    assert sorted(UNUSED) == ["data.max_wav_value", "dist_config.dist_url", "dist_config.world_size", "train.model"]
    # defaults live in the schema only: no `hp.train.get("key", default)`, no OmegaConf.select(..., default=)
    assert not re.search(rf"\.({'|'.join(SECTIONS)})\.get\(|OmegaConf\.select\(", code)
    for key in KEYS:
        section, leaf = key.split(".")
        if key in UNUSED:
            assert not re.search(rf"\b{section}\.{leaf}\b", code), f"{key} is read: drop unused() in the schema"
        else:
            assert re.search(rf"\.{leaf}\b", code), f"{key} is read nowhere: mark it unused() in the schema"


def test_scripts_stop_on_a_misspelled_key_before_anything_runs(tmp_path, monkeypatch, capsys):
    import svc_export
    import svc_trainer
    from prepare import preprocess_spec

    monkeypatch.chdir(tmp_path)
    bad = write(tmp_path, edited(lambda d: d["train"].update(batchsize=4)))
    for run in (lambda: svc_trainer.main(["-c", bad, "-n", "run", "--device", "cpu"]),
                lambda: svc_export.main(["-c", bad, "-p", "chkpt/run/run_0001.pt"]),
                lambda: report_errors(preprocess_spec.main, ["-c", bad, "-w", "waves", "-s", "specs"])):
        with pytest.raises(SystemExit) as stop:
            run()
        err = capsys.readouterr().err
        assert stop.value.code == 1
        assert err == f"error: {bad}: train.batchsize: unknown key (did you mean train.batch_size?)\n"
    assert os.listdir(tmp_path) == ["config.yaml"]  # no chkpt/, logs/, specs/


def test_shared_flags_and_the_error_line(capsys):
    parser = argparse.ArgumentParser()
    add_device_argument(parser)
    assert parser.parse_args([]).device == "auto" and "cuda:N" in parser.format_help()

    def interrupted():
        raise KeyboardInterrupt

    for func, code, line in ((lambda: int("x"), 1, "error: invalid literal"), (interrupted, 130, "stopped: Ctrl-C")):
        with pytest.raises(SystemExit) as stop:
            report_errors(func)
        err = capsys.readouterr().err
        assert stop.value.code == code and err.startswith(line) and err.count("\n") == 1
    assert report_errors(lambda x: x + 1, 1) == 2
