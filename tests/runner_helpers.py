"""What the GitHub runner hands a Docker action and reads back: event payloads, $GITHUB_OUTPUT."""

from __future__ import annotations

from typing import Any

from fakes.github_server import REPOSITORY


def _repo(full_name: str = REPOSITORY) -> dict[str, Any]:
    owner, _, name = full_name.partition("/")
    return {
        "id": 123456,
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": {"login": owner, "type": "Organization"},
        "html_url": f"https://github.com/{full_name}",
        "default_branch": "main",
    }


def pull_request_event(
    number: int, *, head_sha: str, base_sha: str, head_ref: str = "feature", base_ref: str = "main"
) -> dict[str, Any]:
    """A `pull_request` (synchronize) payload, trimmed to the fields GitHub always sends."""
    repo = _repo()
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "id": 900_000 + number,
            "number": number,
            "state": "open",
            "title": "Tune the learning rate",
            "user": {"login": "dev", "type": "User"},
            "html_url": f"https://github.com/{repo['full_name']}/pull/{number}",
            "labels": [],
            "draft": False,
            "merged": False,
            "head": {
                "label": f"{repo['owner']['login']}:{head_ref}",
                "ref": head_ref,
                "sha": head_sha,
                "repo": repo,
            },
            "base": {
                "label": f"{repo['owner']['login']}:{base_ref}",
                "ref": base_ref,
                "sha": base_sha,
                "repo": repo,
            },
        },
        "repository": repo,
        "sender": {"login": "dev", "type": "User"},
    }


def push_event(*, before: str, after: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    """A `push` payload."""
    repo = _repo()
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "head_commit": {"id": after, "message": "Retrain"},
        "repository": repo,
        "pusher": {"name": "dev"},
        "sender": {"login": "dev", "type": "User"},
    }


def parse_outputs(text: str) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT written with the `name<<DELIMITER` syntax (a later value wins)."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, _, delimiter = line.partition("<<")
        assert delimiter, f"not the delimiter syntax: {line!r}"
        value: list[str] = []
        for inner in lines:
            if inner == delimiter:
                break
            value.append(inner)
        else:
            raise AssertionError(f"output {name!r}: delimiter {delimiter!r} never closes")
        outputs[name] = "\n".join(value)
    return outputs
