"""mlaction.gitcontext: ancestors from a real temporary git repository, and the provider chain."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlaction.errors import GitHubError, UsageError
from mlaction.gitcontext import first_of, full_commit, git_ancestors, git_branch, git_head

# A fixed identity and no signing: the tests never read the user's git configuration.
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [*GIT, *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def merged(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main: c0 - c1 - c2 - m, where m merges feature (f1 - f2, branched at c1)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = {"c0": commit(repo, "c0"), "c1": commit(repo, "c1")}
    git(repo, "checkout", "-q", "-b", "feature")
    shas["f1"] = commit(repo, "f1")
    shas["f2"] = commit(repo, "f2")
    git(repo, "checkout", "-q", "main")
    shas["c2"] = commit(repo, "c2")
    git(repo, "merge", "-q", "--no-ff", "-m", "m", "feature")
    shas["m"] = git(repo, "rev-parse", "HEAD")
    return repo, shas


def test_ancestors_follow_first_parents_through_a_merge(
    merged: tuple[Path, dict[str, str]],
) -> None:
    repo, shas = merged
    walk = git_ancestors(repo)

    assert walk(shas["m"], 10) == [shas["c2"], shas["c1"], shas["c0"]]


def test_ancestors_are_nearest_first_and_capped_at_the_count(
    merged: tuple[Path, dict[str, str]],
) -> None:
    repo, shas = merged
    walk = git_ancestors(repo)

    assert walk(shas["m"], 2) == [shas["c2"], shas["c1"]]
    assert walk(shas["f2"], 5) == [shas["f1"], shas["c1"], shas["c0"]]
    assert walk(shas["c0"], 5) == []  # the root has none


def test_a_commit_the_repository_does_not_have_has_no_ancestors(
    merged: tuple[Path, dict[str, str]],
) -> None:
    repo, _ = merged

    assert git_ancestors(repo)("e" * 40, 5) == []


def test_a_shallow_clone_knows_no_ancestors(
    merged: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, shas = merged
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "main", repo.as_uri(), str(shallow))

    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"
    assert git_ancestors(shallow)(shas["m"], 5) == []


def test_outside_a_repository_there_are_no_ancestors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert git_ancestors(plain)("a" * 40, 5) == []
    assert git_head(plain) is None
    assert git_branch(plain) is None


def test_head_and_branch_of_a_checkout(merged: tuple[Path, dict[str, str]]) -> None:
    repo, shas = merged

    assert git_head(repo) == shas["m"]
    assert git_branch(repo) == "main"
    git(repo, "checkout", "-q", "--detach")
    assert git_branch(repo) is None  # detached: no branch


def test_first_of_falls_through_a_provider_that_raises_github_error() -> None:
    asked: list[str] = []

    def github(sha: str, count: int) -> list[str]:
        asked.append("github")
        raise GitHubError("GitHub answered 502 for the commits API.")

    def empty(sha: str, count: int) -> list[str]:
        asked.append("empty")
        return []

    def history(sha: str, count: int) -> list[str]:
        asked.append("history")
        return [f"{sha}^{i}" for i in range(1, count + 1)]

    assert first_of([github, empty, history])("b", 2) == ["b^1", "b^2"]
    assert asked == ["github", "empty", "history"]


def test_first_of_stops_at_the_first_provider_that_knows_the_commit() -> None:
    asked: list[str] = []

    def local(sha: str, count: int) -> list[str]:
        asked.append("local")
        return ["p1"]

    def github(sha: str, count: int) -> list[str]:
        asked.append("github")
        return ["x"]

    assert first_of([local, github])("b", 3) == ["p1"]
    assert asked == ["local"]


def test_first_of_with_no_provider_that_knows_the_commit_is_empty() -> None:
    def failing(sha: str, count: int) -> list[str]:
        raise GitHubError("GitHub refused the token (HTTP 403).")

    assert first_of([failing, failing])("b", 3) == []
    assert first_of([])("b", 3) == []


def test_a_short_sha_is_resolved_in_the_repository(merged: tuple[Path, dict[str, str]]) -> None:
    repo, shas = merged
    assert full_commit(shas["c1"][:7], repo) == shas["c1"]
    assert full_commit(shas["c1"].upper(), repo) == shas["c1"]  # a full sha needs no git


def test_a_short_sha_without_the_repository_says_a_full_sha_is_needed(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        full_commit("e7cd833", tmp_path)
    assert caught.value.message == (
        "commit `e7cd833` is a short sha, and no git repository here resolves it: trackers "
        "record the full 40-character sha, so it would match no run."
    )
    assert caught.value.hint is not None
    assert "git rev-parse e7cd833" in caught.value.hint


def test_a_commit_that_is_not_hexadecimal_passes_unchanged(tmp_path: Path) -> None:
    assert full_commit("release-7", tmp_path) == "release-7"
