"""OpenMP threads must not spin long at barriers (the busy-machine slowdown of issue 13): the
`common` package sets GOMP_SPINCOUNT, which libgomp reads once, when torch loads. So every package
imports `common` before anything that imports torch, and a user's own setting wins."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("whisper", "hubert", "pitch", "speaker", "vits_decoder", "vits", "svc", "prepare")
PROBE = """
import importlib.abc, os, sys
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch":
            print("torch loads with", os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"))
            sys.meta_path.remove(self)
sys.meta_path.insert(0, Watch())
import {module}
"""


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_common_first(package):
    tree = ast.parse(open(os.path.join(ROOT, package, "__init__.py"), encoding="utf-8").read())
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports and isinstance(imports[0], ast.Import) and imports[0].names[0].name == "common", package


def probe(module, env_policy=None):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if env_policy:
        env["OMP_WAIT_POLICY"] = env_policy
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.slow
def test_torch_loads_with_a_short_spin_and_the_users_setting_wins():
    assert probe("svc.merge") == "torch loads with None 2000"
    assert probe("svc.merge", env_policy="PASSIVE") == "torch loads with PASSIVE None"
