"""Config loading (OmegaConf YAML)."""
import os

from omegaconf import OmegaConf


def load_config(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config {path} not found. The default is configs/base.yaml.")
    return OmegaConf.load(path)
