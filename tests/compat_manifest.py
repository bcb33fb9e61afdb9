"""The compatibility contract: tensor names and shapes of the public checkpoint formats.

The manifests live in tests/data/compat/ (copies of the project's shared/compat/), so every clone
runs the compat tests; a missing manifest is an error, never a skip.
"""
import json
import os

COMPAT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "compat")
NAMES = ("sovits5_checkpoint", "whisper_checkpoint", "hubert_soft_checkpoint", "speaker_lstm_checkpoint")


def manifest_path(name):
    return os.path.join(COMPAT_DIR, f"{name}.json")


def load_manifest(name):
    with open(manifest_path(name), encoding="utf-8") as f:
        return json.load(f)
