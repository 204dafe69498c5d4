"""The release rules of scripts/release.py: the tag, the version and CHANGELOG.md."""

from __future__ import annotations

import re

import pytest
from release_helpers import ROOT, release

import mlaction

CHANGELOG = """\
# Changelog

## [Unreleased]

### Added
- something new

## [1.2.0] - 2026-03-01

### Added
- the thing

## [1.1.0] - 2026-01-01

### Fixed
- an old bug
"""


def test_the_version_is_written_once_and_the_package_reports_it() -> None:
    assert release.version() == mlaction.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "mlaction.__version__" }' in pyproject


def test_changelog_latest_section_package_version_and_tag_rule_agree() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = release.version()

    release.check_changelog(text, version)  # Unreleased first, no release newer than the package

    tag = f"v{version}"
    assert release.TAG_RE.fullmatch(tag)
    assert release.image_tags(tag) == [
        f"{release.IMAGE}:{version}",
        f"{release.IMAGE}:{version.split('.')[0]}",
    ]
    latest = release.released(text)[:1]
    if latest and latest[0].name == version:  # the release state: the tag would pass now
        assert release.check_tag(tag, text, version) == version


def test_a_release_tag_passes_when_tag_version_and_changelog_agree() -> None:
    assert release.check_tag("v1.2.0", CHANGELOG, "1.2.0") == "1.2.0"
    assert release.notes(CHANGELOG, "1.2.0") == "### Added\n- the thing\n"


@pytest.mark.parametrize(
    ("tag", "version", "message"),
    [
        ("1.2.0", "1.2.0", "tag '1.2.0' is not vMAJOR.MINOR.PATCH"),
        ("v1.2", "1.2.0", "tag 'v1.2' is not vMAJOR.MINOR.PATCH"),
        ("v1.2.0rc1", "1.2.0", "tag 'v1.2.0rc1' is not vMAJOR.MINOR.PATCH"),
        ("v1.3.0", "1.2.0", "tag v1.3.0 does not match the package version 1.2.0"),
        ("v1.3.0", "1.3.0", "CHANGELOG.md has no `## [1.3.0] - YYYY-MM-DD` section"),
        ("v1.1.0", "1.1.0", "CHANGELOG.md's latest release 1.2.0 is newer than the package"),
    ],
)
def test_a_release_tag_that_disagrees_is_refused(tag: str, version: str, message: str) -> None:
    with pytest.raises(release.ReleaseError, match="^" + re.escape(message)):
        release.check_tag(tag, CHANGELOG, version)


def test_a_changelog_without_unreleased_or_dates_is_refused() -> None:
    with pytest.raises(release.ReleaseError, match="must start with a `## \\[Unreleased\\]`"):
        release.check_changelog(
            CHANGELOG.replace("## [Unreleased]", "## [1.3.0] - 2026-04-01"), "1.3.0"
        )
    with pytest.raises(release.ReleaseError, match="has no ` - YYYY-MM-DD` date"):
        release.check_changelog(CHANGELOG.replace(" - 2026-01-01", ""), "1.2.0")
    with pytest.raises(release.ReleaseError, match="is not `## \\[VERSION\\] - YYYY-MM-DD`"):
        release.check_changelog(CHANGELOG.replace("## [1.1.0]", "## 1.1.0"), "1.2.0")


def test_the_command_line_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert release.main(["check-tag", "nope"]) == 2
    assert capsys.readouterr().err == (
        "release: tag 'nope' is not vMAJOR.MINOR.PATCH (e.g. v1.2.3)\n"
    )
    assert release.main(["version"]) == 0
    assert capsys.readouterr().out == f"{mlaction.__version__}\n"
