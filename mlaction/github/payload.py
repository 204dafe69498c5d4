"""Event payload -> the fields of GitHubContext, one function per kind of event.

Field names follow GitHub's webhook payloads (as in @octokit/webhooks-examples and the
"Events that trigger workflows" documentation). What a payload cannot say (the head commit of
the PR an `issue_comment` is on, the PR of a fork's `workflow_run`) is marked in `lookup` and
found through the API by github/events.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlaction.errors import GitHubError

PR_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)
NULL_SHA = "0" * 40
_SHA = re.compile(r"^[0-9a-f]{40}$")


def fields_for(
    event_name: str | None, env: Mapping[str, str], payload: dict[str, Any]
) -> dict[str, Any]:
    if isinstance(payload.get("pull_request"), dict) or event_name in PR_EVENTS:
        return pull_request_fields(env, payload)
    parse = _BY_EVENT.get(event_name or "", default_fields)
    return parse(env, payload)


def pull_request_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    pr = payload.get("pull_request") or {}
    return {
        **pull_fields(pr),
        "sha": _str(dig(pr, "head", "sha")) or get(env, "GITHUB_SHA"),
        "base_ref": _str(dig(pr, "base", "ref")) or get(env, "GITHUB_BASE_REF"),
        "head_ref": _str(dig(pr, "head", "ref")) or get(env, "GITHUB_HEAD_REF"),
        "pr_number": _int(pr.get("number"))
        or _int(payload.get("number"))
        or _pr_from_ref(get(env, "GITHUB_REF")),
    }


def pull_fields(pr: dict[str, Any]) -> dict[str, Any]:
    """The fields of a pull request object (the payload's, or `GET /pulls/{n}`'s)."""
    head_repo = _str(dig(pr, "head", "repo", "full_name"))
    base_repo = _str(dig(pr, "base", "repo", "full_name"))
    labels = tuple(
        str(label["name"])
        for label in pr.get("labels") or ()
        if isinstance(label, dict) and label.get("name")
    )
    return {
        "sha": _str(dig(pr, "head", "sha")),
        "base_sha": _str(dig(pr, "base", "sha")),
        "base_ref": _str(dig(pr, "base", "ref")),
        "head_ref": _str(dig(pr, "head", "ref")),
        "pr_number": _int(pr.get("number")),
        "labels": labels,
        "head_repository": head_repo,
        # A deleted fork leaves head.repo null: the head is then certainly not the base repository.
        "is_fork": bool(pr) and head_repo != base_repo,
    }


def _merge_group_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    group = payload.get("merge_group") or {}
    return {
        "sha": _str(group.get("head_sha")) or get(env, "GITHUB_SHA"),
        "base_sha": _str(group.get("base_sha")),
        "base_ref": branch(_str(group.get("base_ref"))),
        "head_ref": branch(_str(group.get("head_ref"))),
    }


def _workflow_run_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    run = payload.get("workflow_run") or {}
    # GitHub leaves `pull_requests` empty for runs triggered from a fork (see docs/fork-prs.md).
    prs = [p for p in run.get("pull_requests") or () if isinstance(p, dict)]
    first = prs[0] if prs else {}
    head_repo = _str(dig(run, "head_repository", "full_name"))
    base_repo = _str(dig(run, "repository", "full_name")) or _str(
        dig(payload, "repository", "full_name")
    )
    event = _str(run.get("event"))
    return {
        "sha": _str(run.get("head_sha")) or get(env, "GITHUB_SHA"),
        "base_sha": _str(dig(first, "base", "sha")),
        "base_ref": _str(dig(first, "base", "ref")),
        "head_ref": _str(dig(first, "head", "ref")) or _str(run.get("head_branch")),
        "pr_number": _int(first.get("number")),
        "workflow_run_event": event,
        "head_repository": head_repo,
        "is_fork": bool(head_repo and base_repo and head_repo != base_repo),
        "lookup": "pulls_for_sha" if not prs and (event or "").startswith("pull_request") else None,
    }


def _push_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    before = _str(payload.get("before"))
    ref = _str(payload.get("ref")) or get(env, "GITHUB_REF")
    fields: dict[str, Any] = {
        # An annotated tag's `after` is the tag object; head_commit and GITHUB_SHA are the commit.
        "sha": get(env, "GITHUB_SHA")
        or _str(dig(payload, "head_commit", "id"))
        or _str(payload.get("after")),
        # The previous tip of the branch; a new branch has none (GitHub sends forty zeros).
        "base_sha": before if before and before != NULL_SHA else None,
        "head_ref": branch(ref),
        "tag": tag(ref),
    }
    if payload.get("deleted") is True:
        what = f"tag `{tag(ref)}`" if tag(ref) else f"branch `{branch(ref) or ref}`"
        fields.update(
            sha=None,
            base_sha=None,
            deleted=True,
            skip=f"this push deleted {what}: there is no commit to judge.",
        )
    return fields


def _release_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    name = _str(dig(payload, "release", "tag_name"))
    sha = get(env, "GITHUB_SHA")  # GitHub: "Last commit in the tagged release"
    return {"sha": sha, "tag": name, "lookup": None if sha or not name else "tag"}


def _check_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    suite = payload.get("check_suite") or dig(payload, "check_run", "check_suite") or {}
    check = payload.get("check_suite") or payload.get("check_run") or {}
    prs = [p for p in check.get("pull_requests") or () if isinstance(p, dict)]
    first = prs[0] if prs else {}
    return {
        "sha": _str(check.get("head_sha")) or get(env, "GITHUB_SHA"),
        "base_sha": _str(dig(first, "base", "sha")),
        "base_ref": _str(dig(first, "base", "ref")),
        "head_ref": _str(dig(first, "head", "ref")) or _str(dig(suite, "head_branch")),
        "pr_number": _int(first.get("number")),
    }


def _issue_comment_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    issue = payload.get("issue")
    if not (isinstance(issue, dict) and issue.get("pull_request")):
        return default_fields(env, payload)
    # A comment on a pull request: the payload has no head commit; GITHUB_SHA is the default
    # branch's tip, which is not what the PR is about. events.resolve reads the PR.
    return {"sha": None, "pr_number": _int(issue.get("number")), "lookup": "pull"}


def _dispatch_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    """`repository_dispatch`: `client_payload.sha` / `client_payload.pr` are whatever the
    sender wrote: validated (40 hex characters; a positive integer), never trusted further."""
    client = payload.get("client_payload")
    client = client if isinstance(client, dict) else {}
    fields = default_fields(env, payload)
    sha, pr = client.get("sha"), client.get("pr")
    if sha is not None:
        if not (isinstance(sha, str) and _SHA.match(sha)):
            raise _invalid("client_payload.sha", "a full 40-character hexadecimal commit sha", sha)
        fields.update(sha=sha, head_ref=None)
    if pr is not None:
        number = _int(pr)
        if number is None or number <= 0:
            raise _invalid("client_payload.pr", "a positive pull request number", pr)
        # the PR's head, read through the API, is judged; a `sha` sent with it must match it
        fields.update(pr_number=number, lookup="pull", sha=sha, head_ref=None)
    fields["from_dispatch"] = sha is not None or pr is not None
    return fields


def _invalid(field: str, expected: str, value: object) -> GitHubError:
    shown = repr(value)[:60]
    return GitHubError(
        f"repository_dispatch: `{field}` must be {expected}, got {shown}.",
        hint="Fix the sender of the dispatch (its `client_payload`), or leave the field out to "
        "judge the default branch.",
    )


def default_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    ref = get(env, "GITHUB_REF") or _str(payload.get("ref"))
    return {"sha": get(env, "GITHUB_SHA"), "head_ref": branch(ref), "tag": tag(ref)}


_BY_EVENT = {
    "merge_group": _merge_group_fields,
    "workflow_run": _workflow_run_fields,
    "push": _push_fields,
    "release": _release_fields,
    "check_run": _check_fields,
    "check_suite": _check_fields,
    "issue_comment": _issue_comment_fields,
    "repository_dispatch": _dispatch_fields,
}


def get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def dig(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def branch(ref: str | None) -> str | None:
    prefix = "refs/heads/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


def tag(ref: str | None) -> str | None:
    prefix = "refs/tags/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


def _pr_from_ref(ref: str | None) -> int | None:
    # refs/pull/123/merge
    parts = (ref or "").split("/")
    return _int(parts[2]) if len(parts) == 4 and parts[:2] == ["refs", "pull"] else None
