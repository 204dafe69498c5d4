"""Where a commit's ancestors come from: the checked-out repository, else the GitHub API.

Used by `baseline.select: base_commit` when the base commit has no run: the nearest ancestor
that has one becomes the baseline.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from mlaction.errors import GitHubError

Ancestors = Callable[[str, int], list[str]]


def git_ancestors(repo: Path | None = None) -> Ancestors:
    """Ancestors from `git rev-list` (first parents); empty when the history is not there
    (a shallow clone, or not a repository)."""

    def walk(sha: str, count: int) -> list[str]:
        try:
            done = subprocess.run(
                ["git", "rev-list", "--first-parent", f"--max-count={count + 1}", sha, "--"],
                cwd=repo,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if done.returncode != 0:
            return []
        shas = done.stdout.split()
        return shas[1:] if shas and shas[0] == sha else []

    return walk


def first_of(providers: Sequence[Ancestors]) -> Ancestors:
    """The first provider that knows the commit; a failing GitHub call counts as not knowing."""

    def walk(sha: str, count: int) -> list[str]:
        for provider in providers:
            try:
                found = provider(sha, count)
            except GitHubError:
                found = []
            if found:
                return found
        return []

    return walk
