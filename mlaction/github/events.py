"""Complete an event's context through the API: what the payload alone cannot say.

- `issue_comment` on a pull request (and `repository_dispatch` with `client_payload.pr`): the
  payload names the PR but not its head; `GET /pulls/{n}` gives head sha, base and labels.
- `workflow_run` triggered by a pull request with an empty `pull_requests` list (GitHub sends
  it empty when the PR comes from a fork): `GET /commits/{head_sha}/pulls`, then the open PRs
  whose head is `owner:branch` of the head repository; only a PR whose head is that very
  commit is taken.
- `release` without GITHUB_SHA: the tag's commit, `GET /commits/{tag}`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mlaction.errors import GitHubError
from mlaction.github.client import GitHubClient
from mlaction.github.payload import pull_fields
from mlaction.github.runner import GitHubContext

log = logging.getLogger(__name__)


def resolve(ctx: GitHubContext, client: GitHubClient | None) -> GitHubContext:
    """The context with `lookup` done; unchanged when nothing needs looking up."""
    if ctx.lookup is None or ctx.skip:
        return ctx
    if client is None:
        raise GitHubError(
            f"This `{ctx.event_name}` event needs the GitHub API to find {needs(ctx)}, and no "
            "token is available; nothing was judged or posted.",
            hint="Pass `github-token` (the workflow token is enough: `pull-requests: read`).",
        )
    if ctx.lookup == "pull":
        return _from_pull(ctx, client)
    if ctx.lookup == "pulls_for_sha":
        return _from_head_sha(ctx, client)
    return _from_tag(ctx, client)


def needs(ctx: GitHubContext) -> str:
    """What the API must say for this event (\"the head commit of pull request #3\")."""
    if ctx.lookup == "pull":
        return f"the head commit of pull request #{ctx.pr_number}"
    if ctx.lookup == "pulls_for_sha":
        return f"the pull request of commit {ctx.sha}"
    return f"the commit of tag {ctx.tag!r}"


def _from_pull(ctx: GitHubContext, client: GitHubClient) -> GitHubContext:
    assert ctx.pr_number is not None
    pr = client.get_pull(ctx.pr_number)
    fields = pull_fields(pr)
    if not fields["sha"]:
        raise GitHubError(f"Pull request #{ctx.pr_number} has no head commit in GitHub's answer.")
    if ctx.from_dispatch and ctx.sha and ctx.sha != fields["sha"]:
        raise GitHubError(
            f"repository_dispatch: `client_payload.sha` {ctx.sha} is not the head of pull "
            f"request #{ctx.pr_number} ({fields['sha']}); nothing was judged or posted.",
            hint="Send the PR's current head sha, or only `client_payload.pr`.",
        )
    log.debug(
        "pull request #%d: head %s, base %s", ctx.pr_number, fields["sha"], fields["base_sha"]
    )
    return dataclasses.replace(ctx, **fields, lookup=None)


def _from_head_sha(ctx: GitHubContext, client: GitHubClient) -> GitHubContext:
    assert ctx.sha is not None
    pulls = [p for p in client.pulls_for_commit(ctx.sha) if _head_is(p, ctx.sha)]
    if not pulls and ctx.head_repository and ctx.head_ref:
        owner = ctx.head_repository.split("/", 1)[0]
        pulls = [
            p for p in client.open_pulls_with_head(owner, ctx.head_ref) if _head_is(p, ctx.sha)
        ]
    open_first = sorted(pulls, key=lambda p: (p.get("state") != "open", -int(p.get("number") or 0)))
    if not open_first:
        log.debug("no pull request has head %s", ctx.sha)
        return dataclasses.replace(ctx, lookup=None)
    fields = pull_fields(open_first[0])
    # The head commit is the one the workflow ran on, whatever the PR says now.
    fields["sha"] = ctx.sha
    if ctx.is_fork:
        fields["is_fork"] = True
    return dataclasses.replace(ctx, **fields, lookup=None)


def _head_is(pull: dict[str, Any], sha: str) -> bool:
    head = pull.get("head")
    return isinstance(head, dict) and head.get("sha") == sha


def _from_tag(ctx: GitHubContext, client: GitHubClient) -> GitHubContext:
    assert ctx.tag is not None
    return dataclasses.replace(ctx, sha=client.commit_sha(ctx.tag), lookup=None)
