"""The release rules in one place: the version, the tag rule, the image names, the notes.

The release workflow, the Makefile and the tests call this script; it needs only the standard
library (it runs before anything is installed).

    python scripts/release.py version             # the package version (mlaction/__init__.py)
    python scripts/release.py check-tag v1.2.3    # the tag, the version and CHANGELOG.md agree
    python scripts/release.py notes 1.2.3         # CHANGELOG.md's section of 1.2.3 (release notes)
    python scripts/release.py image-tags v1.2.3   # the image references a release pushes
    python scripts/release.py deps-tag            # the dependency image's tag (a content hash)
    python scripts/release.py pin-deps-image      # write that tag into the Dockerfile's FROM line

The tag rule: a release is the git tag `v` + the package version, `vMAJOR.MINOR.PATCH` (no
pre-releases). It publishes `ml-gate==MAJOR.MINOR.PATCH` on PyPI and the images IMAGE:M.m.p and
IMAGE:MAJOR, and moves the git tag `vMAJOR`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "ghcr.io/ml-gate/ml-gate"
DEPS_IMAGE = "ghcr.io/ml-gate/ml-gate-deps"
VERSION_FILE = ROOT / "mlaction" / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"
DOCKERFILE = ROOT / "Dockerfile"
DEPS_INPUTS = (ROOT / "docker" / "deps.Dockerfile", ROOT / "requirements" / "image.txt")

VERSION_RE = re.compile(r"(?P<major>0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)")
TAG_RE = re.compile(rf"v(?P<version>{VERSION_RE.pattern})")
HEADING_RE = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
FROM_RE = re.compile(rf"^FROM {re.escape(DEPS_IMAGE)}:(?P<tag>\S+)$", re.MULTILINE)


class ReleaseError(Exception):
    """A release rule is broken; the message says which and how to fix it."""


@dataclass(frozen=True)
class Section:
    name: str  # "Unreleased" or a version
    date: str | None
    body: str


def version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', VERSION_FILE.read_text(), re.MULTILINE)
    if match is None:
        raise ReleaseError(f'no `__version__ = "..."` line in {VERSION_FILE}')
    return match.group(1)


def version_key(text: str) -> tuple[int, ...]:
    if VERSION_RE.fullmatch(text) is None:
        raise ReleaseError(f"{text!r} is not a MAJOR.MINOR.PATCH version")
    return tuple(int(part) for part in text.split("."))


def sections(text: str) -> list[Section]:
    """CHANGELOG.md's `## [...]` sections, newest first, each with its body."""
    found: list[Section] = []
    name: str | None = None
    date: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), "## [end]"]:
        match = HEADING_RE.match(line)
        if match is None and line.startswith("## "):
            raise ReleaseError(f"CHANGELOG.md: {line!r} is not `## [VERSION] - YYYY-MM-DD`")
        if match is None:
            body.append(line)
            continue
        if name is not None:
            found.append(Section(name, date, "\n".join(body).strip()))
        name, date, body = match["name"], match["date"], []
    return found


def released(text: str) -> list[Section]:
    return [section for section in sections(text) if section.name != "Unreleased"]


def check_changelog(text: str, package_version: str) -> None:
    """The development state: an Unreleased section first; no release newer than the package."""
    version_key(package_version)
    found = sections(text)
    if not found or found[0].name != "Unreleased":
        raise ReleaseError("CHANGELOG.md must start with a `## [Unreleased]` section")
    for section in released(text):
        version_key(section.name)
        if section.date is None:
            raise ReleaseError(f"CHANGELOG.md: `## [{section.name}]` has no ` - YYYY-MM-DD` date")
    latest = released(text)[:1]
    if latest and version_key(latest[0].name) > version_key(package_version):
        raise ReleaseError(
            f"CHANGELOG.md's latest release {latest[0].name} is newer than the package version "
            f"{package_version} (mlaction/__init__.py)"
        )


def check_tag(tag: str, text: str, package_version: str) -> str:
    """The release state: the tag is `v` + the version, and that version's section is the latest."""
    match = TAG_RE.fullmatch(tag)
    if match is None:
        raise ReleaseError(f"tag {tag!r} is not vMAJOR.MINOR.PATCH (e.g. v1.2.3)")
    if match["version"] != package_version:
        raise ReleaseError(
            f"tag {tag} does not match the package version {package_version}: set "
            f'__version__ = "{match["version"]}" in mlaction/__init__.py, or tag v{package_version}'
        )
    check_changelog(text, package_version)
    latest = released(text)[:1]
    if not latest or latest[0].name != package_version:
        raise ReleaseError(
            f"CHANGELOG.md has no `## [{package_version}] - YYYY-MM-DD` section under "
            "`## [Unreleased]`: move the Unreleased entries into it"
        )
    if not latest[0].body:
        raise ReleaseError(f"CHANGELOG.md's section {package_version} is empty")
    return package_version


def notes(text: str, wanted: str) -> str:
    for section in released(text):
        if section.name == wanted:
            return section.body + "\n"
    raise ReleaseError(f"CHANGELOG.md has no section `## [{wanted}]`")


def image_tags(tag: str) -> list[str]:
    match = TAG_RE.fullmatch(tag)
    if match is None:
        raise ReleaseError(f"tag {tag!r} is not vMAJOR.MINOR.PATCH (e.g. v1.2.3)")
    return [f"{IMAGE}:{match['version']}", f"{IMAGE}:{match['major']}"]


def deps_tag() -> str:
    digest = hashlib.sha256()
    for path in DEPS_INPUTS:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()[:16]


def pinned_deps_tag(dockerfile: str) -> str:
    match = FROM_RE.search(dockerfile)
    if match is None:
        raise ReleaseError(f"the Dockerfile has no `FROM {DEPS_IMAGE}:<tag>` line")
    return match["tag"]


def pin_deps_image() -> str:
    text = DOCKERFILE.read_text()
    pinned_deps_tag(text)
    tag = deps_tag()
    DOCKERFILE.write_text(FROM_RE.sub(f"FROM {DEPS_IMAGE}:{tag}", text, count=1))
    return tag


def main(argv: list[str]) -> int:
    command, *args = argv or ["help"]
    try:
        if command == "version" and not args:
            print(version())
        elif command == "check-tag" and len(args) == 1:
            print(check_tag(args[0], CHANGELOG.read_text(encoding="utf-8"), version()))
        elif command == "notes" and len(args) == 1:
            print(notes(CHANGELOG.read_text(encoding="utf-8"), args[0]), end="")
        elif command == "image-tags" and len(args) == 1:
            print("\n".join(image_tags(args[0])))
        elif command == "deps-tag" and not args:
            print(deps_tag())
        elif command == "deps-image" and not args:
            print(f"{DEPS_IMAGE}:{deps_tag()}")
        elif command == "pin-deps-image" and not args:
            print(f"{DEPS_IMAGE}:{pin_deps_image()}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
