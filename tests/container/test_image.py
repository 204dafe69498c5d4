"""What the image holds: the package's version and exactly the locked dependencies."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "image.txt"
PROBE = """\
import importlib.metadata as m, json, platform
print(json.dumps({
    "python": platform.python_version(),
    "dists": {d.metadata["Name"]: d.version for d in m.distributions()},
}))
"""


def run_in(image: str, *args: str) -> str:
    """stdout of `args` in a container of `image` (no --rm: the engine would hide the exit code)."""
    name = f"ml-gate-image-{uuid.uuid4().hex[:12]}"
    try:
        done = subprocess.run(
            ["docker", "run", "--name", name, "--entrypoint", args[0], image, *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def locked(lock_text: str) -> list[Requirement]:
    """The `name==version ; marker` lines of a `uv pip compile` output (hashes dropped)."""
    lines = lock_text.replace("\\\n", " ").splitlines()
    heads = [line.split("--hash")[0].strip() for line in lines]
    return [Requirement(head) for head in heads if head and not head.startswith("#")]


def test_image_reports_the_package_version(action_image: str) -> None:
    from mlaction import __version__

    assert run_in(action_image, "python", "-m", "mlaction.cli", "--version").strip() == (
        f"ml-gate {__version__}"
    )


def test_image_holds_exactly_the_locked_dependencies(action_image: str) -> None:
    probe = json.loads(run_in(action_image, "python", "-c", PROBE))
    python = probe["python"]
    installed = {canonicalize_name(name): version for name, version in probe["dists"].items()}
    environment = {"python_full_version": python, "python_version": python.rsplit(".", 1)[0]}

    expected = {
        canonicalize_name(req.name): str(req.specifier).removeprefix("==")
        for req in locked(LOCK.read_text(encoding="utf-8"))
        if req.marker is None or Marker(str(req.marker)).evaluate(environment)
    }

    assert expected, "the lock file lists nothing"
    assert {name: installed.get(name) for name in expected} == expected
    assert "ml-gate" not in installed  # the package is copied, not installed: no stale metadata
