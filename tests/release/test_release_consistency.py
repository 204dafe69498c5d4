"""action.yml, the release workflow, the Dockerfiles and the docs agree on names and tag rules."""

from __future__ import annotations

import re
from typing import Any

import yaml
from release_helpers import ROOT, release

GHCR_REF = re.compile(r"ghcr\.io/[\w.-]+/[\w.-]+(?::[\w.<>-]+)?")
DOCUMENTS = ["README.md", "docs/releasing.md", "action.yml", "Dockerfile", "docker/deps.Dockerfile"]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def read(path: str) -> str:
    text: str = (ROOT / path).read_text(encoding="utf-8")
    return text


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(read(".github/workflows/release.yml"))
    return loaded


def test_every_image_reference_is_one_of_the_two_images() -> None:
    files = [*DOCUMENTS, *(path.relative_to(ROOT).as_posix() for path in WORKFLOWS)]
    names = {release.IMAGE, release.DEPS_IMAGE}
    found = {(path, ref.split(":")[0]) for path in files for ref in GHCR_REF.findall(read(path))}
    assert {name for _, name in found} <= names, sorted(found)
    assert {name for path, name in found if path == "docs/releasing.md"} == names


def test_the_action_builds_the_dockerfile_which_starts_from_this_locks_deps_image() -> None:
    action = yaml.safe_load(read("action.yml"))
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert release.pinned_deps_tag(read("Dockerfile")) == release.deps_tag(), (
        "the Dockerfile's FROM line names another dependency image than the lock file's: "
        "run `make lock` (or `python scripts/release.py pin-deps-image`)"
    )


def test_the_release_workflow_uses_the_names_and_the_tag_rule() -> None:
    flow = workflow()
    assert flow["env"] == {"DEPS_IMAGE": release.DEPS_IMAGE, "IMAGE": release.IMAGE}
    assert flow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    text = read(".github/workflows/release.yml")
    assert 'scripts/release.py check-tag "$GITHUB_REF_NAME"' in text
    assert 'scripts/release.py image-tags "$GITHUB_REF_NAME"' in text
    assert "scripts/release.py deps-image" in text
    # The moved git tag is the tag up to its first dot: vMAJOR, like the image's MAJOR tag.
    assert 'major="${GITHUB_REF_NAME%%.*}"' in text
    assert release.image_tags("v12.3.4")[1] == f"{release.IMAGE}:12"
    assert release.TAG_RE.fullmatch("v12.3.4")
    assert not release.TAG_RE.fullmatch("12.3.4")


def test_the_release_workflow_publishes_with_trusted_publishing_and_both_platforms() -> None:
    jobs = workflow()["jobs"]
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert not any("password" in (step.get("with") or {}) for step in jobs["pypi"]["steps"])
    platforms = {entry["platform"] for entry in jobs["deps-image"]["strategy"]["matrix"]["include"]}
    assert platforms == {"linux/amd64", "linux/arm64"}
    push = next(
        step for step in jobs["image"]["steps"] if "build-push-action" in step.get("uses", "")
    )
    assert push["with"]["platforms"] == "linux/amd64,linux/arm64"


def test_the_docs_state_the_same_tag_rule() -> None:
    docs = read("docs/releasing.md")
    assert "`vMAJOR.MINOR.PATCH`" in docs
    assert "`v` + the package version" in docs
    for example in re.findall(r"`(v\d+(?:\.\d+)*)`", docs):
        assert release.TAG_RE.fullmatch(example) or re.fullmatch(r"v\d+", example), example
    for example in re.findall(rf"{re.escape(release.IMAGE)}:(\d[\w.]*)", docs):
        assert re.fullmatch(r"\d+(\.\d+\.\d+)?", example), example
    install = read("README.md")
    assert f"{release.IMAGE}:" in install
    assert "pip install 'ml-gate" in install


def test_the_dogfood_workflow_tests_the_working_tree_on_its_own_deps_image() -> None:
    text = read(".github/workflows/dogfood.yml")
    assert "uses: ./" in text
    assert "scripts/release.py deps-image" in text
    assert "docker build -f docker/deps.Dockerfile" in text
