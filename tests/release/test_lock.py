"""The image's lock file pins every dependency of `ml-gate[all]` within pyproject.toml's ranges."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from release_helpers import ROOT

LOCK = ROOT / "requirements" / "image.txt"
FIX = "run `make lock` and commit requirements/image.txt and the Dockerfile"


def locked() -> dict[str, set[str]]:
    """name -> the versions the lock pins (one per Python-version fork of the resolution)."""
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, set[str]] = {}
    for line in text.splitlines():
        head = line.split("--hash")[0].strip()
        if head and not head.startswith("#"):
            requirement = Requirement(head)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{head}: the lock pins exact versions"
            pins.setdefault(canonicalize_name(requirement.name), set()).add(spec.version)
    return pins


def package_requirements() -> list[Requirement]:
    """`ml-gate[all]`'s requirements from the installed metadata (`make` reinstalls)."""
    found = [Requirement(text) for text in requires("ml-gate") or []]
    return [r for r in found if r.marker is None or r.marker.evaluate({"extra": "all"})]


def test_the_lock_was_compiled_from_pyproject_with_hashes() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:2]
    assert header[1].split() == [
        "#", "uv", "pip", "compile", "pyproject.toml", "--extra", "all", "--universal",
        "--generate-hashes", "-o", "requirements/image.txt",
    ]  # fmt: skip
    assert "--hash=sha256:" in LOCK.read_text(encoding="utf-8")


def test_every_requirement_is_locked_within_its_range() -> None:
    pins = locked()
    outside = {
        str(requirement): sorted(pins.get(canonicalize_name(requirement.name), {"missing"}))
        for requirement in package_requirements()
        if not pins.get(canonicalize_name(requirement.name))
        or not all(
            requirement.specifier.contains(v) for v in pins[canonicalize_name(requirement.name)]
        )
    }
    assert outside == {}, f"the lock does not satisfy pyproject.toml: {FIX}"
