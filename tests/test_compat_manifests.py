"""The in-repository compat manifests are present, parse, and equal the shared contract."""
import json
import os

import pytest

from tests.compat_manifest import NAMES, load_manifest, manifest_path

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "compat")


@pytest.mark.parametrize("name", NAMES)
def test_manifest_present_and_lists_tensors(name):
    manifest = load_manifest(name)
    tensors = [entry for value in manifest.values() if isinstance(value, list) for entry in value
               if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)]
    assert tensors, f"{manifest_path(name)} lists no (name, shape) pairs"


@pytest.mark.parametrize("name", NAMES)
def test_manifest_equals_shared_copy(name):
    shared = os.path.join(SHARED, f"{name}.json")
    if not os.path.isfile(shared):
        pytest.skip("no shared/ folder beside this clone (only the project's own machines have one)")
    with open(shared, encoding="utf-8") as f:
        assert load_manifest(name) == json.load(f), f"{manifest_path(name)} differs from {shared}: copy it again"
