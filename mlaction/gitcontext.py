"""The commits a gate is about (from the event or the CLI), and where their ancestors come from.

Ancestors are used by `baseline.select: base_commit` when the base commit has no run: the
nearest ancestor that has one becomes the baseline. They come from the checked-out repository,
else from the GitHub commits API (a callable handed in by the door: this module talks to no
network).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlaction.errors import GitHubError, UsageError

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mlaction.github.runner import GitHubContext

Ancestors = Callable[[str, int], list[str]]
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")  # SHA-1, or a SHA-256 repository
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,63}")


@dataclass(frozen=True)
class GitContext:
    """The commits the gate is about, from the GitHub event or the CLI."""

    commit: str | None = None
    base_commit: str | None = None
    base_branch: str | None = None
    head_branch: str | None = None
    # (sha, n) -> up to n ancestors of sha, nearest first; for the base_commit fallback chain
    ancestors: Callable[[str, int], list[str]] | None = None


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


def git_head(cwd: Path | None = None) -> str | None:
    """The working directory's HEAD commit, None outside a git checkout."""
    return git_output(["rev-parse", "HEAD"], cwd)


def git_branch(cwd: Path | None = None) -> str | None:
    """The checked-out branch, None when detached or outside a checkout."""
    return git_output(["rev-parse", "--abbrev-ref", "HEAD"], cwd)


def git_output(args: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out and out != "HEAD" else None


def ancestry(repo: Path | None, api: Ancestors | None = None) -> Ancestors:
    """The checked-out history first (no API call), else `api` (GitHub's commits API)."""
    return first_of([git_ancestors(repo), *([api] if api else [])])


def discover_git(
    env: Mapping[str, str],
    commit: str | None = None,
    base_commit: str | None = None,
    branch: str | None = None,
    *,
    run_id: str | None = None,
) -> GitContext:
    """The commits to judge: flags first, then the GitHub event (the PR head sha, not the merge
    commit), then $GITHUB_SHA, then the working directory's git HEAD. With `run_id` the run is
    named already: an event that would need the API to name the commit is not resolved."""
    from mlaction.github.runner import GitHubContext

    ctx = GitHubContext.from_env(env)
    if ctx.lookup is not None and not ctx.skip and not commit and not run_id:
        ctx = _resolve_event(ctx, env)
    found: tuple[str | None, str | None, str | None, str | None]
    if ctx.sha:
        found = (ctx.sha, ctx.base_sha, ctx.base_ref, ctx.head_ref)
    else:
        found = (git_head(), None, None, git_branch())
    return GitContext(
        commit=full_commit(commit) if commit else found[0],
        base_commit=full_commit(base_commit) if base_commit else found[1],
        base_branch=found[2],
        head_branch=branch or found[3],
        ancestors=ancestry(None, _api_ancestors(env)),
    )


def github_token(env: Mapping[str, str]) -> str | None:
    """The token the CLI calls GitHub's API with: GITHUB_TOKEN, else GH_TOKEN (the GitHub CLI's)."""
    return env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None


def _resolve_event(ctx: GitHubContext, env: Mapping[str, str]) -> GitHubContext:
    """What the event's payload cannot say (the head commit of the PR an `issue_comment` is
    on, a tag's commit), read through the API as the Action does; never git's HEAD instead,
    which on such events is the default branch, not the commit the workflow is about. When the
    commit is known and only its PR is not (a fork's `workflow_run`), a failed lookup is no
    error: the commit is judged without the PR's base."""
    from mlaction.github.client import GitHubClient
    from mlaction.github.events import needs, resolve

    token, repository = github_token(env), ctx.repository
    if not token or not repository:
        if ctx.sha:
            return ctx
        raise UsageError(
            f"this `{ctx.event_name}` event does not name the commit to judge, and without "
            f"GITHUB_TOKEN ml-gate cannot read {needs(ctx)} through the API.",
            hint="Set `env: GITHUB_TOKEN: ${{ github.token }}` on the step (the workflow "
            "token is enough), or pass --commit with the commit to judge.",
        )
    api = env.get("GITHUB_API_URL") or "https://api.github.com"
    try:
        return resolve(ctx, GitHubClient(token, api_url=api, repository=repository))
    except GitHubError as exc:
        if not ctx.sha:
            raise
        _log.debug("looking up %s failed (%s): judging %s", needs(ctx), exc.message, ctx.sha)
        return dataclasses.replace(ctx, lookup=None)


def _api_ancestors(env: Mapping[str, str]) -> Ancestors | None:
    """GitHub's commits API, when a token (github_token) and GITHUB_REPOSITORY are set."""
    token, repository = github_token(env), env.get("GITHUB_REPOSITORY")
    if not token or not repository:
        return None

    def walk(sha: str, count: int) -> list[str]:
        from mlaction.github.client import GitHubClient

        api = env.get("GITHUB_API_URL") or "https://api.github.com"
        return GitHubClient(token, api_url=api, repository=repository).ancestors(sha, count)

    return walk


def full_commit(value: str, cwd: Path | None = None) -> str:
    """A commit given on the command line, as trackers record it: the full sha.

    Trackers tag runs with the full sha, so a short one (`e7cd833`) would match no run. It is
    resolved with `git rev-parse` when the repository is at hand, else refused with the fix.
    Values that are not hexadecimal (a tag some training step wrote) pass unchanged.
    """
    if _FULL_SHA.fullmatch(value):
        return value.lower()
    if not _SHORT_SHA.fullmatch(value):
        return value
    found = git_output(["rev-parse", "--verify", "--quiet", f"{value}^{{commit}}"], cwd)
    if found and _FULL_SHA.fullmatch(found):
        return found
    raise UsageError(
        f"commit `{value}` is a short sha, and no git repository here resolves it: "
        "trackers record the full 40-character sha, so it would match no run.",
        hint=f"Pass the full sha (`git rev-parse {value}` in the repository), or run "
        "`ml-gate check` inside the checkout.",
    )
