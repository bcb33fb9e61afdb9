"""The one config reader: a YAML file checked against common/config_schema.py. An unknown key, a value
of the wrong type, a missing section or a file that is not YAML is one ConfigError naming the file and
the key; `mrd.resolutions` is parsed here from the public string form."""
import ast
import dataclasses
import difflib
import os
import typing

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from common.config_schema import SvcConfig

SECTIONS = {f.name: f.type for f in dataclasses.fields(SvcConfig)}
KEYS = {f"{s}.{f.name}": f for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
UNUSED = sorted(k for k, f in KEYS.items() if f.metadata.get("unused"))


class ConfigError(ValueError):
    pass


def load_config(path):
    """The typed config (an OmegaConf DictConfig shaped by SvcConfig) of the YAML file at `path`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config {path} not found. The default is configs/base.yaml.")
    try:
        data = OmegaConf.load(path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}. --config takes a model config such as "
                          f"configs/base.yaml.") from None
    return config_from(data, path)


def config_from(data, source="config"):
    """Check a mapping (a dict or DictConfig, e.g. a loaded YAML with overrides) against the schema."""
    if isinstance(data, DictConfig):
        data = OmegaConf.to_container(data)
    if not isinstance(data, dict) or not SECTIONS.keys() & data.keys():
        raise ConfigError(f"{source}: not a model config: it has none of the sections {', '.join(SECTIONS)}. "
                          f"Use configs/base.yaml or the config the model was trained with.")
    data = {name: {} if keys is None else keys for name, keys in data.items()}  # an empty section: defaults
    for name, keys in data.items():
        for key in [f"{name}.{k}" for k in keys] if name in SECTIONS and isinstance(keys, dict) else [name]:
            if key not in KEYS and key not in SECTIONS:
                close = closest(key)
                hint = f"did you mean {close}?" if close else "see common/config_schema.py for the valid keys"
                raise ConfigError(f"{source}: {key}: unknown key ({hint})")
    missing = [name for name in SECTIONS if name not in data]
    if missing:
        raise ConfigError(f"{source}: missing section{'s' * (len(missing) > 1)} {', '.join(missing)} "
                          f"(see configs/base.yaml)")
    config = OmegaConf.structured(SvcConfig)
    for name, keys in data.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{source}: {name}: expected a section of keys, got {keys!r}")
        for key, value in keys.items():
            if f"{name}.{key}" == "mrd.resolutions":
                value = parse_resolutions(value, source)
            try:
                OmegaConf.update(config, f"{name}.{key}", value, merge=isinstance(value, dict))
            except OmegaConfBaseException:
                kind = describe(KEYS[f"{name}.{key}"].type)
                raise ConfigError(f"{source}: {name}.{key}: expected {kind}, got {value!r}") from None
    try:
        OmegaConf.resolve(config)  # ${section.key} references
    except OmegaConfBaseException as e:
        raise ConfigError(f"{source}: {e.full_key}: {str(e).splitlines()[0]}") from None
    return config


def closest(key):
    """The valid key nearest to a misspelled one: a near leaf in the same section, the same leaf in
    another section, or a near section name; None when nothing is near."""
    section, _, leaf = key.rpartition(".")
    if not section:
        return next(iter(difflib.get_close_matches(key, SECTIONS, n=1)), None)
    near = difflib.get_close_matches(leaf, [k.split(".")[1] for k in KEYS if k.startswith(section + ".")], n=1)
    return f"{section}.{near[0]}" if near else next((k for k in KEYS if k.endswith("." + leaf)), None)


def parse_resolutions(value, source="config"):
    """mrd.resolutions: "[(n_fft, hop, win), ...]" (the public string) or a list -> [[n_fft, hop, win], ...]."""
    try:
        triples = [[int(v) for v in r] for r in (ast.literal_eval(value) if isinstance(value, str) else value)]
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        triples = []
    if not triples or any(len(r) != 3 for r in triples):
        raise ConfigError(f"{source}: mrd.resolutions: expected a list of (n_fft, hop, win) triples, got {value!r}")
    return triples


def describe(kind, plural=False):
    """A schema type in words, for error messages."""
    if typing.get_origin(kind) is list:
        return ("lists" if plural else "a list") + " of " + describe(typing.get_args(kind)[0], plural=True)
    if dataclasses.is_dataclass(kind):  # a nested group of numbers, e.g. log.score_weights
        return "a mapping of " + ", ".join(f.name for f in dataclasses.fields(kind))
    names = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
             str: ("a string", "strings")}
    return names[kind][plural]
