"""The runner side of GitHub Actions: event context, action inputs, workflow commands.

Everything here reads the environment or writes to a given stream or file; nothing talks to the
network.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from mlaction.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"

_PR_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)
_NULL_SHA = "0" * 40


@dataclass(frozen=True)
class GitHubContext:
    """What the workflow run is about. `sha` is the commit to judge (the PR head, not the merge)."""

    event_name: str | None = None
    repository: str | None = None
    sha: str | None = None
    base_sha: str | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    pr_number: int | None = None
    labels: tuple[str, ...] = ()
    actor: str | None = None
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    workspace: str | None = None
    run_url: str | None = None
    is_fork: bool = False
    # A `labeled` event: (the label added, the login of whoever added it)
    labeled: tuple[str, str | None] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubContext:
        """Build the context from the runner's GITHUB_* variables and the event payload."""
        event_name = _get(env, "GITHUB_EVENT_NAME")
        payload = _read_event(_get(env, "GITHUB_EVENT_PATH"))
        repository = _get(env, "GITHUB_REPOSITORY") or _str(
            _dig(payload, "repository", "full_name")
        )
        server_url = (_get(env, "GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
        run_id = _get(env, "GITHUB_RUN_ID")
        common: dict[str, Any] = {
            "event_name": event_name,
            "repository": repository,
            "actor": _get(env, "GITHUB_ACTOR") or _str(_dig(payload, "sender", "login")),
            "api_url": (_get(env, "GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            "server_url": server_url,
            "workspace": _get(env, "GITHUB_WORKSPACE"),
            "run_url": f"{server_url}/{repository}/actions/runs/{run_id}"
            if repository and run_id
            else None,
            "labeled": _labeled(payload),
        }
        if isinstance(payload.get("pull_request"), dict) or event_name in _PR_EVENTS:
            specific = _pull_request_fields(env, payload)
        elif event_name == "workflow_run":
            specific = _workflow_run_fields(env, payload)
        elif event_name == "push":
            specific = _push_fields(env, payload)
        else:  # workflow_dispatch, schedule, release, issue_comment, ...
            specific = _default_fields(env, payload)
        return cls(**common, **specific)


def _labeled(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    name = _str(_dig(payload, "label", "name"))
    if payload.get("action") != "labeled" or not name:
        return None
    return name, _str(_dig(payload, "sender", "login"))


def _pull_request_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    pr = payload.get("pull_request") or {}
    head_repo = _str(_dig(pr, "head", "repo", "full_name"))
    base_repo = _str(_dig(pr, "base", "repo", "full_name"))
    labels = tuple(
        str(label["name"])
        for label in pr.get("labels") or ()
        if isinstance(label, dict) and label.get("name")
    )
    return {
        "sha": _str(_dig(pr, "head", "sha")) or _get(env, "GITHUB_SHA"),
        "base_sha": _str(_dig(pr, "base", "sha")),
        "base_ref": _str(_dig(pr, "base", "ref")) or _get(env, "GITHUB_BASE_REF"),
        "head_ref": _str(_dig(pr, "head", "ref")) or _get(env, "GITHUB_HEAD_REF"),
        "pr_number": _int(pr.get("number"))
        or _int(payload.get("number"))
        or _pr_from_ref(_get(env, "GITHUB_REF")),
        "labels": labels,
        # A deleted fork leaves head.repo null: the head is then certainly not the base repository.
        "is_fork": bool(pr) and head_repo != base_repo,
    }


def _workflow_run_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    run = payload.get("workflow_run") or {}
    # GitHub leaves `pull_requests` empty for runs triggered from a fork (see docs/fork-prs.md).
    prs = [p for p in run.get("pull_requests") or () if isinstance(p, dict)]
    first = prs[0] if prs else {}
    head_repo = _str(_dig(run, "head_repository", "full_name"))
    base_repo = _str(_dig(run, "repository", "full_name"))
    return {
        "sha": _str(run.get("head_sha")) or _get(env, "GITHUB_SHA"),
        "base_sha": _str(_dig(first, "base", "sha")),
        "base_ref": _str(_dig(first, "base", "ref")),
        "head_ref": _str(_dig(first, "head", "ref")) or _str(run.get("head_branch")),
        "pr_number": _int(first.get("number")),
        "is_fork": bool(head_repo and base_repo and head_repo != base_repo),
    }


def _push_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    before = _str(payload.get("before"))
    return {
        "sha": _get(env, "GITHUB_SHA") or _str(payload.get("after")),
        # The previous tip of the branch; a new branch has none (GitHub sends forty zeros).
        "base_sha": before if before and before != _NULL_SHA else None,
        "head_ref": _branch(_get(env, "GITHUB_REF") or _str(payload.get("ref"))),
    }


def _default_fields(env: Mapping[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    issue = payload.get("issue")
    # issue_comment on a pull request: the issue *is* the PR (no head sha in this payload).
    pr_number = (
        _int(issue.get("number")) if isinstance(issue, dict) and issue.get("pull_request") else None
    )
    return {
        "sha": _get(env, "GITHUB_SHA"),
        "head_ref": _branch(_get(env, "GITHUB_REF") or _str(payload.get("ref"))),
        "pr_number": pr_number,
    }


def _read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GitHubError(
            f"Cannot read the GitHub event payload at GITHUB_EVENT_PATH={path}: {exc}",
            hint="On a runner GitHub writes this file itself. When running locally, unset "
            "GITHUB_EVENT_PATH or point it at a JSON file with the event payload.",
        ) from None
    if not isinstance(payload, dict):
        raise GitHubError(
            f"The GitHub event payload at GITHUB_EVENT_PATH={path} is not a JSON object.",
            hint="Point GITHUB_EVENT_PATH at the JSON payload of a webhook event, or unset it.",
        )
    return payload


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _dig(data: object, *keys: str) -> object:
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


def _branch(ref: str | None) -> str | None:
    prefix = "refs/heads/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


def _pr_from_ref(ref: str | None) -> int | None:
    # refs/pull/123/merge
    parts = (ref or "").split("/")
    return _int(parts[2]) if len(parts) == 4 and parts[:2] == ["refs", "pull"] else None


# -- inputs -------------------------------------------------------------------------------


def read_input(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """An action input: `INPUT_GITHUB-TOKEN` (what the runner sends) or `INPUT_GITHUB_TOKEN`.

    Surrounding whitespace is trimmed (as @actions/core does); an empty value means `default`.
    """
    key = name.strip().replace(" ", "_").upper()
    for spelling in dict.fromkeys((key, key.replace("-", "_"))):
        value = env.get(f"INPUT_{spelling}", "").strip()
        if value:
            return value
    return default


# -- workflow commands ---------------------------------------------------------------------

AnnotationLevel = Literal["error", "warning", "notice"]


def escape_data(value: str) -> str:
    """Escape a workflow-command message (the part after `::`)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow-command property value (`title=...`)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(level: AnnotationLevel, message: str, title: str | None = None) -> str:
    """`::error title=...::message`, escaped; print it to stdout to annotate the run."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    props = f" title={escape_property(title)}" if title else ""
    return f"::{level}{props}::{escape_data(message)}"


def mask(value: str, stream: IO[str]) -> None:
    """Ask the runner to hide `value` in the log (`::add-mask::`), one command per line."""
    for line in value.splitlines():
        if line.strip():
            stream.write(f"::add-mask::{escape_data(line)}\n")
    stream.flush()


def write_outputs(path: str | Path, outputs: Mapping[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT with the multi-line-safe `name<<delimiter` syntax."""
    lines: list[str] = []
    for name, value in outputs.items():
        if not name or any(c in name for c in "\r\n=<"):
            raise ValueError(f"invalid output name {name!r}")
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        if delimiter in value:  # pragma: no cover - a fresh uuid4 never occurs in a value
            raise ValueError(f"output {name!r} contains its own delimiter")
        lines += [f"{name}<<{delimiter}", value, delimiter]
    with Path(path).open("a", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def append_summary(path: str | Path, markdown: str) -> None:
    """Append Markdown to $GITHUB_STEP_SUMMARY, ending it with a newline."""
    with Path(path).open("a", encoding="utf-8", newline="\n") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
