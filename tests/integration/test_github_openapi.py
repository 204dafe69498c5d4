"""Every request the client sends exists in GitHub's OpenAPI description with that method and
those parameters (tests/github_openapi_operations.json: the operations vendored from
@octokit/openapi). GraphQL (`POST /graphql`) is not part of the REST description."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fakes.github_server import REPOSITORY_ID, WORKFLOW_TOKEN, FakeGitHub

from mlaction.github.client import GitHubClient

OPERATIONS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "github_openapi_operations.json").read_text()
)["paths"]


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    # A Link header's /repositories/{id}/... is the same operation as /repos/{owner}/{repo}/...
    path = re.sub(rf"^/repositories/{REPOSITORY_ID}", "/repos/o/r", path)
    for template, methods in OPERATIONS.items():
        names = re.findall(r"{(\w+)}", template)
        pattern = "^" + re.sub(r"{\w+}", "([^/]+)", template) + "$"
        found = re.match(pattern, path)
        if found and method.lower() in methods:
            return template, methods[method.lower()], dict(zip(names, found.groups(), strict=True))
    return None


def exercise(client: GitHubClient, gh: FakeGitHub) -> None:
    gh.add_token("ghp_personal", "someone")
    GitHubClient("ghp_personal", api_url=gh.api_url, repository=gh.repository).upsert_comment(
        1, "<!-- m -->", "x"
    )
    gh.fail_next("graphql", 403)
    client.whoami()
    for i in range(120):
        gh.add_comment(1, f"c{i}")
    client.upsert_comment(1, "<!-- m -->", "body")
    client.upsert_comment(1, "<!-- m -->", "body, edited")
    client.label_added_by(1, "accept")
    gh.history.extend(["a" * 40, "b" * 40])
    gh.tags["v1"] = "a" * 40
    client.ancestors("a" * 40, 3)
    client.commit_sha("v1")
    gh.add_pull(3, head_sha="a" * 40, base_sha="b" * 40)
    client.get_pull(3)
    client.pulls_for_commit("a" * 40)
    client.open_pulls_with_head("someone", "feature")
    created = client.create_check_run(
        {"name": "ml-gate: x", "head_sha": "a" * 40, "status": "in_progress"}
    )
    output = {"title": "t", "summary": "s", "annotations": []}
    client.update_check_run(created["id"], {"status": "completed", "conclusion": "success",
                                            "output": output})  # fmt: skip


def test_every_request_is_an_operation_of_githubs_description() -> None:
    with FakeGitHub() as gh:
        client = GitHubClient(WORKFLOW_TOKEN, api_url=gh.api_url, repository=gh.repository)
        exercise(client, gh)
        seen = set()
        for request in gh.requests:
            if request.route == "graphql":
                continue
            match = operation_for(request.method, request.path)
            assert match, f"{request.method} {request.path} is not in GitHub's description"
            template, operation, _ = match
            query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert set(request.query) <= query, (template, request.query)
            for param in operation["parameters"]:
                if param["name"] in request.query and "maximum" in param:
                    assert int(request.query[param["name"]][0]) <= param["maximum"]
            if request.body is not None:
                body = operation["requestBody"]
                assert body, template
                assert set(request.body) <= set(body["properties"]), template
                assert set(body["required"]) <= set(request.body)
            seen.add(operation["operationId"])
    assert seen == {op["operationId"] for methods in OPERATIONS.values() for op in methods.values()}
