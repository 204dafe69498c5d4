"""The runner side of GitHub Actions: event context, action inputs, workflow commands.

Everything here reads the environment or writes to a given stream or file; nothing talks to the
network.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, get_args

from mlaction.errors import GitHubError, UsageError, reveal
from mlaction.github.payload import dig, fields_for, get

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"


@dataclass(frozen=True)
class GitHubContext:
    """What the workflow run is about. `sha` is the commit to judge (the PR head, not the merge).

    Beyond the commits, it records what the trust rules need: the event that triggered a
    `workflow_run` (`workflow_run_event`), the head repository and whether it is a fork, a
    deleting push (`deleted`, with `skip` saying why there is nothing to judge), the tag of a tag
    push or release, and whether the commit or PR came from a `repository_dispatch` sender
    (`from_dispatch`: validated, untrusted). `lookup` names what the payload could not say and
    github/events.py must find through the API ("pull": the PR's head and base; "pulls_for_sha":
    the PR of a workflow_run's head commit; "tag": a release's commit).
    """

    event_name: str | None = None
    repository: str | None = None
    sha: str | None = None
    base_sha: str | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    pr_number: int | None = None
    labels: tuple[str, ...] = ()
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    workspace: str | None = None
    run_url: str | None = None
    is_fork: bool = False
    # A `labeled` event: (the label added, the login of whoever added it)
    labeled: tuple[str, str | None] | None = None
    workflow_run_event: str | None = None
    head_repository: str | None = None
    deleted: bool = False
    tag: str | None = None
    from_dispatch: bool = False
    lookup: Literal["pull", "pulls_for_sha", "tag"] | None = None
    skip: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubContext:
        """Build the context from the runner's GITHUB_* variables and the event payload."""
        event_name = get(env, "GITHUB_EVENT_NAME")
        payload = _read_event(get(env, "GITHUB_EVENT_PATH"))
        repository = get(env, "GITHUB_REPOSITORY") or _text(dig(payload, "repository", "full_name"))
        server_url = (get(env, "GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
        run_id = get(env, "GITHUB_RUN_ID")
        common: dict[str, Any] = {
            "event_name": event_name,
            "repository": repository,
            "api_url": (get(env, "GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            "server_url": server_url,
            "workspace": get(env, "GITHUB_WORKSPACE"),
            "run_url": f"{server_url}/{repository}/actions/runs/{run_id}"
            if repository and run_id
            else None,
            "labeled": _labeled(payload),
        }
        return cls(**common, **fields_for(event_name, env, payload))


def _labeled(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    name = _text(dig(payload, "label", "name"))
    if payload.get("action") != "labeled" or not name:
        return None
    return name, _text(dig(payload, "sender", "login"))


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


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


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
    """`::error title=...::message`, escaped; print it to stdout to annotate the run.

    Control, invisible and direction-changing characters (a run name can hold U+202E to show
    itself reversed) are written visibly as `\\u202e`; line breaks stay line breaks."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    props = f" title={escape_property(reveal(title))}" if title else ""
    return f"::{level}{props}::{escape_data(reveal(message))}"


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


# -- input values ------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_PR_NUMBER = re.compile(r"^[0-9]{1,9}$")  # ASCII digits only: "²".isdigit() is True
CommentMode = Literal["always", "on_failure", "never"]


def input_flag(value: str | None, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"input `{name}` must be true or false, got {(value or '')[:40]!r}.")


def input_comment_mode(value: str | None) -> CommentMode | None:
    if not value:
        return None
    for mode in get_args(CommentMode):
        if value == mode:
            chosen: CommentMode = mode
            return chosen
    raise UsageError(
        f"input `comment` must be always, on_failure or never, got {value[:40]!r}.",
        hint="Leave it empty to use the config's `comment.mode`.",
    )


def input_pr_number(value: str | None) -> int | None:
    if not value:
        return None
    if not _PR_NUMBER.match(value) or int(value) == 0:
        raise UsageError(f"input `pr-number` must be a pull request number, got {value[:40]!r}.")
    return int(value)
