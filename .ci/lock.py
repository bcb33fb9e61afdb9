"""Print constraints.txt: the installed version of every package requirements.txt pulls in, transitively.

    python .ci/lock.py > constraints.txt     # after the test suite passed in this environment
"""
import importlib.metadata as metadata
import os
import re

from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                yield Requirement(line).name


def pinned(roots):
    found, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if canonical(name) in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[canonical(name)] = (dist.metadata["Name"], dist.version.split("+")[0])  # 2.13.0+cpu -> 2.13.0
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return [f"{name}=={version}" for _, (name, version) in sorted(found.items())]


if __name__ == "__main__":
    print("# Versions the test suite passed with (python .ci/lock.py > constraints.txt regenerates it).")
    print("# Used as: pip install -r requirements.txt -c constraints.txt")
    print("\n".join(pinned(requirement_names(os.path.join(ROOT, "requirements.txt")))))
