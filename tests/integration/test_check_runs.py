"""`check-run: true` through entrypoint.py against the GitHub fake (check runs as GitHub's
OpenAPI description shapes them, tests/fakes/github_checks.py) and a real MLflow server: created
`in_progress` on the judged commit before the verdict, completed once with the verdict's
conclusion, annotations on the config's lines, a refusal that is one warning, and the
`repository_dispatch` a training system sends when it is done."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.github_server import READONLY_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger
from test_entrypoint import HEAD, MERGE, PR, ours, run_entrypoint

CHECK = {"check-run": "true"}
NAME = "ml-gate: .github/ml-gate.yml"
CONFIG = """\
tracker:
  type: mlflow
  experiment: {experiment}
  timeout: 10s
baseline: {{select: best, branch: main}}
metrics:
  accuracy:
    min: 0.90
    max_regression: 0.02
  f1: {{min: 0.5}}
"""


def config(runs: RunLogger, extra: str = "") -> str:
    return CONFIG.format(experiment=runs.experiment) + extra


def test_a_failing_gate_completes_its_check_run_once_with_annotations_on_the_rules(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95, "f1": 0.9})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85, "f1": 0.4})

    result = run_entrypoint(tmp_path, github_server, runs, inputs=CHECK, config=config(runs))

    assert result.code == 1, result.stdout
    [check] = github_server.checks.runs.values()
    assert (check.name, check.head_sha) == (NAME, HEAD)  # the PR head, not the merge commit
    assert check.statuses == ["in_progress", "completed"]
    assert (check.completions, check.conclusion) == (1, "failure")
    routes = [r.route for r in github_server.requests]
    assert routes.index("create_check_run") < routes.index("list_comments")  # before the verdict
    assert check.output["title"] == (
        "ml-gate failed: accuracy.min, accuracy.max_regression, f1.min"
    )
    assert "## ❌ ml-gate: failed" in check.output["summary"]
    assert check.output["summary"] == result.summary.strip() + "\n"
    where = {
        (a["title"], a["path"], a["start_line"], a["annotation_level"]) for a in check.annotations
    }
    assert where == {
        ("ml-gate: accuracy.min", ".github/ml-gate.yml", 8, "failure"),
        ("ml-gate: accuracy.max_regression", ".github/ml-gate.yml", 9, "failure"),
        ("ml-gate: f1.min", ".github/ml-gate.yml", 10, "failure"),
    }
    create = github_server.requests_to("create_check_run")[0].body
    assert create["details_url"].endswith("/actions/runs/99")


def test_pass_is_success_and_warn_is_neutral(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.5, "f1": 0.9})  # a baseline: no on_missing warning
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.95, "f1": 0.9})
    passed = run_entrypoint(tmp_path, github_server, runs, inputs=CHECK, config=config(runs))
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.5, "f1": 0.9})
    warned = run_entrypoint(
        tmp_path, github_server, runs, inputs=CHECK, config=config(runs, "on_failure: warn\n")
    )

    assert (passed.code, warned.code) == (0, 0)
    first, second = github_server.checks.runs.values()
    assert (first.conclusion, first.completions, first.annotations) == ("success", 1, [])
    assert (second.conclusion, second.completions) == ("neutral", 1)
    assert [a["annotation_level"] for a in second.annotations] == ["warning"]
    assert second.annotations[0]["start_line"] == 8


def test_more_than_50_annotations_are_sent_50_at_a_time_and_completed_last(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    names = [f"m{i:02d}" for i in range(60)]
    runs.log(HEAD, branch="feature", metrics=dict.fromkeys(names, 0.1))
    text = f"tracker: {{experiment: {runs.experiment}}}\nmetrics:\n" + "".join(
        f"  {name}: {{min: 0.5}}\n" for name in names
    )

    result = run_entrypoint(tmp_path, github_server, runs, inputs=CHECK, config=text)

    assert result.code == 1
    updates = [r.body for r in github_server.requests_to("update_check_run")]
    assert [len(u["output"]["annotations"]) for u in updates] == [50, 10]
    assert ["conclusion" in u for u in updates] == [False, True]
    [check] = github_server.checks.runs.values()
    assert (check.completions, len(check.annotations)) == (1, 60)
    assert [a["start_line"] for a in check.annotations] == list(range(3, 63))


def test_a_refused_check_run_is_one_warning_and_keeps_the_verdict(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95, "f1": 0.9})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.85, "f1": 0.9})

    result = run_entrypoint(
        tmp_path, github_server, runs, inputs=CHECK, config=config(runs), token=READONLY_TOKEN
    )

    assert result.code == 1  # the gate's verdict
    assert result.outputs["verdict"] == "fail"
    assert "## ❌ ml-gate: failed" in result.summary
    warnings = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("::warning title=ml-gate%3A check run")
    ]
    assert len(warnings) == 1
    assert "could not be created" in warnings[0]
    assert "`permissions: checks: write`" in warnings[0]
    assert "The verdict, outputs and job summary are unaffected." in warnings[0]
    assert github_server.requests_to("update_check_run") == []  # left alone after the refusal
    assert github_server.checks.runs == {}


def test_an_error_completes_the_check_run_as_failure_with_the_error(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    result = run_entrypoint(
        tmp_path, github_server, runs, inputs=CHECK, tracking_uri="http://127.0.0.1:9"
    )

    assert result.code == 2
    assert result.outputs["verdict"] == "error"
    [check] = github_server.checks.runs.values()
    assert (check.statuses, check.conclusion) == (["in_progress", "completed"], "failure")
    assert (
        "the MLflow server at http://127.0.0.1:9 refused the connection"
        in (check.output["summary"])
    )


def test_repository_dispatch_from_the_training_system_judges_its_commit(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    """What a W&B Automation or an MLflow webhook sends to GitHub's dispatches API once the
    model is logged: `{"event_type": "model-trained", "client_payload": {"sha": ..., "pr": 7}}`."""
    github_server.add_pull(PR, head_sha=HEAD, base_sha="b" * 40)
    runs.log("1" * 40, metrics={"accuracy": 0.5, "f1": 0.9})  # a baseline: no on_missing warning
    cand = runs.log(HEAD, branch="feature", metrics={"accuracy": 0.95, "f1": 0.9})
    event = {
        "action": "model-trained",
        "branch": "main",
        "client_payload": {"sha": HEAD, "pr": PR},
        "repository": {"full_name": github_server.repository},
        "sender": {"login": "training-bot"},
    }

    result = run_entrypoint(
        tmp_path, github_server, runs, event_name="repository_dispatch", event=event,
        inputs=CHECK, config=config(runs), sha="d" * 40,
    )  # fmt: skip

    assert result.code == 0, result.stdout
    assert result.outputs["candidate-run-id"] == cand
    assert len(ours(github_server)) == 1  # the PR's sticky comment
    [check] = github_server.checks.runs.values()
    assert (check.head_sha, check.conclusion) == (HEAD, "success")

    only_sha = dict(event, client_payload={"sha": HEAD})
    again = run_entrypoint(
        tmp_path, github_server, runs, event_name="repository_dispatch", event=only_sha,
        inputs=CHECK, config=config(runs), sha=MERGE,
    )  # fmt: skip
    assert again.code == 0, again.stdout
    assert again.outputs["candidate-run-id"] == cand
    assert json.loads(again.outputs["failed-checks"]) == []
    assert [c.head_sha for c in github_server.checks.runs.values()] == [HEAD, HEAD]
