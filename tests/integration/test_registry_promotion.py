"""Registry checks, promotion on green and the reviewed override, on a real MLflow server with
the Action's flow (`run_action`) and the GitHub fake."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.github_server import BOT_LOGIN, WORKFLOW_TOKEN, FakeGitHub
from mlflow_helpers import RunLogger
from runner_helpers import parse_outputs, pull_request_event, push_event

from mlaction.action import run_action

HEAD = "a" * 40
BASE = "b" * 40
PR = 5
LABEL = "ml-gate: accept-regression"


@dataclass
class Result:
    code: int
    out: str
    outputs: dict[str, str]
    summary: str
    report: dict[str, Any]


def config(runs: RunLogger, extra: str) -> str:
    return (
        f"tracker: {{uri: {runs.uri}, experiment: {runs.experiment}, timeout: 10s}}\n"
        "baseline: {select: best, branch: main}\n"
        "metrics:\n  accuracy: {min: 0.80, max_regression: 0.02}\n" + extra
    )


def act(
    tmp_path: Path,
    github: FakeGitHub,
    text: str,
    *,
    event_name: str,
    event: dict[str, Any],
    sha: str = HEAD,
    inputs: dict[str, str] | None = None,
) -> Result:
    workspace = tmp_path / "ws"
    (workspace / ".github").mkdir(parents=True, exist_ok=True)
    (workspace / ".github" / "ml-gate.yml").write_text(text)
    output, summary, event_path = tmp_path / "out", tmp_path / "summary", tmp_path / "event.json"
    for path in (output, summary):
        path.write_text("")
    event_path.write_text(json.dumps(event))
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_SHA": sha,
        "GITHUB_REF": "refs/heads/main" if event_name == "push" else f"refs/pull/{PR}/merge",
        "GITHUB_API_URL": github.api_url,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "INPUT_GITHUB-TOKEN": WORKFLOW_TOKEN,
        **{f"INPUT_{k.upper()}": v for k, v in (inputs or {}).items()},
    }
    stream = io.StringIO()
    code = run_action(env, stream=stream)
    report = json.loads((workspace / "ml-gate-report.json").read_text())
    return Result(
        code, stream.getvalue(), parse_outputs(output.read_text()), summary.read_text(), report
    )


def register(runs: RunLogger, model: str, run_id: str, tags: dict[str, str] | None = None) -> str:
    client = runs.client
    if not client.search_registered_models(f"name = '{model}'"):
        client.create_registered_model(model)
    version = client.create_model_version(
        model, f"runs:/{run_id}/model", run_id=run_id, tags=tags or {}
    )
    return str(version.version)


def alias_version(runs: RunLogger, model: str, alias: str) -> str:
    return str(runs.client.get_model_version_by_alias(model, alias).version)


PROMOTE = "promote: {{model: {model}, alias: champion, on: [push], branches: [main]}}\n"


def test_push_to_main_promotes_exactly_once(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model = f"m-{runs.experiment}"
    old = runs.log("1" * 40, metrics={"accuracy": 0.90})
    cand = runs.log(HEAD, metrics={"accuracy": 0.91})
    v1 = register(runs, model, old)
    runs.client.set_registered_model_alias(model, "champion", v1)
    v2 = register(runs, model, cand)
    text = config(runs, PROMOTE.format(model=model))
    event = push_event(before=BASE, after=HEAD)

    first = act(tmp_path, github_server, text, event_name="push", event=event)

    assert first.code == 0, first.out
    assert alias_version(runs, model, "champion") == v2
    assert first.outputs["promoted"] == "true"
    assert first.outputs["promoted-version"] == v2
    assert first.report["promotion"] == {
        "model": model,
        "alias": "champion",
        "action": "promoted",
        "version": v2,
        "previous": v1,
        "reason": "",
    }
    assert f"now points at version {v2} (previously version {v1})" in first.summary

    again = act(tmp_path, github_server, text, event_name="push", event=event)

    assert again.code == 0
    assert again.outputs["promoted"] == "false"
    assert again.outputs["promoted-version"] == v2
    assert again.report["promotion"]["action"] == "already"
    assert alias_version(runs, model, "champion") == v2


def test_pull_request_never_promotes(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model = f"m-{runs.experiment}"
    cand = runs.log(HEAD, branch="feature", metrics={"accuracy": 0.95})
    register(runs, model, cand)
    github_server.pulls.add(PR)

    result = act(
        tmp_path,
        github_server,
        config(runs, PROMOTE.format(model=model)),
        event_name="pull_request",
        event=pull_request_event(PR, head_sha=HEAD, base_sha=BASE),
    )

    assert result.code == 0
    assert result.outputs["promoted"] == "false"
    assert result.report["promotion"]["action"] == "skipped"
    assert result.report["promotion"]["reason"] == "pull requests never promote"
    assert runs.client.get_registered_model(model).aliases == {}


def test_failing_gate_does_not_promote_and_dry_run_changes_nothing(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model = f"m-{runs.experiment}"
    runs.log("1" * 40, metrics={"accuracy": 0.95})
    cand = runs.log(HEAD, metrics={"accuracy": 0.85})
    version = register(runs, model, cand)
    text = config(runs, PROMOTE.format(model=model))
    event = push_event(before=BASE, after=HEAD)

    failed = act(tmp_path, github_server, text, event_name="push", event=event)
    assert failed.code == 1
    assert failed.report["promotion"]["reason"] == "the gate did not pass (verdict: fail)"

    newer = runs.log(HEAD, metrics={"accuracy": 0.99})  # the newest run of the commit
    register(runs, model, newer)
    dry = act(
        tmp_path, github_server, text, event_name="push", event=event, inputs={"dry-run": "true"}
    )
    assert dry.code == 0, dry.out
    assert dry.report["promotion"]["action"] == "would_promote"
    assert dry.outputs["promoted"] == "false"
    assert "would point champion" in dry.summary
    assert runs.client.get_registered_model(model).aliases == {}
    assert dry.report["promotion"]["version"] == "2"
    assert version == "1"


def test_missing_model_version_is_exit_2_with_the_fix(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model = f"m-{runs.experiment}"
    runs.client.create_registered_model(model)
    runs.log(BASE, metrics={"accuracy": 0.95})  # the baseline: the gate passes
    runs.log(HEAD, metrics={"accuracy": 0.95})

    result = act(
        tmp_path,
        github_server,
        config(runs, PROMOTE.format(model=model)),
        event_name="push",
        event=push_event(before=BASE, after=HEAD),
    )

    assert result.code == 2
    assert result.outputs["verdict"] == "pass"  # the gate's verdict is still reported
    assert result.outputs["promoted"] == "false"
    reason = result.report["promotion"]["reason"]
    assert f"has no version of model `{model}`" in reason
    assert "mlflow.register_model" in reason
    assert any(
        line.startswith("::error title=ml-gate%3A promotion::") for line in result.out.splitlines()
    )


def test_registry_checks(tmp_path: Path, github_server: FakeGitHub, runs: RunLogger) -> None:
    model = f"m-{runs.experiment}"
    cand = runs.log(HEAD, metrics={"accuracy": 0.95})
    register(runs, model, cand, tags={"training_dataset_version": "v7"})
    rules = (
        f"registry: {{model: {model}, version_tags: [training_dataset_version, "
        "feature_schema_version], require_alias: champion}\n"
    )

    result = act(
        tmp_path,
        github_server,
        config(runs, rules),
        event_name="push",
        event=push_event(before=BASE, after=HEAD),
    )

    checks = {c["name"]: c for c in result.report["checks"]}
    assert checks["registry.version"]["status"] == "pass"
    assert (
        checks["registry.version_tags"]["message"]
        == "missing version tag: `feature_schema_version`"
    )
    assert checks["registry.alias"]["message"] == (
        f"alias `champion` of model `{model}` points at no version"
    )
    assert result.code == 1
    assert json.loads(result.outputs["failed-checks"]) == [
        "registry.version_tags",
        "registry.alias",
    ]


def test_run_without_a_registered_version_fails_the_registry_check(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    model = f"m-{runs.experiment}"
    register(runs, model, runs.log("1" * 40, metrics={"accuracy": 0.9}))
    cand = runs.log(HEAD, metrics={"accuracy": 0.95})

    result = act(
        tmp_path,
        github_server,
        config(runs, f"registry: {{model: {model}}}\n"),
        event_name="push",
        event=push_event(before=BASE, after=HEAD),
    )

    check = next(c for c in result.report["checks"] if c["name"] == "registry.version")
    assert check["status"] == "fail"
    assert cand not in check["message"]  # the run is named by its label
    assert f"has no version of model `{model}`" in check["message"]


def labelled_event(labels: list[str], *, labeled_by: str | None = None) -> dict[str, Any]:
    event = pull_request_event(PR, head_sha=HEAD, base_sha=BASE)
    event["pull_request"]["labels"] = [{"name": name} for name in labels]
    if labeled_by:
        event["action"] = "labeled"
        event["label"] = {"name": LABEL}
        event["sender"] = {"login": labeled_by}
    return event


def test_override_label_turns_a_failure_into_a_warning(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.90})
    github_server.pulls.add(PR)
    text = config(runs, "")

    without = act(
        tmp_path, github_server, text, event_name="pull_request", event=labelled_event(["ready"])
    )
    assert without.code == 1
    assert without.report["override"] is None

    labeled = act(
        tmp_path,
        github_server,
        text,
        event_name="pull_request",
        event=labelled_event([LABEL], labeled_by="lead-reviewer"),
    )
    assert labeled.code == 0
    assert labeled.outputs["verdict"] == "warn"
    assert labeled.report["override"] == {"label": LABEL, "by": "lead-reviewer"}
    assert json.loads(labeled.outputs["failed-checks"]) == ["accuracy.max_regression"]
    comment = next(c for c in github_server.comments(PR) if c["user"]["login"] == BOT_LOGIN)
    assert "Failures accepted for this pull request" in comment["body"]
    assert "added by lead-reviewer" in comment["body"]


def test_override_author_from_the_issue_events(
    tmp_path: Path, github_server: FakeGitHub, runs: RunLogger
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95})
    runs.log(HEAD, branch="feature", metrics={"accuracy": 0.90})
    github_server.add_event(
        PR, {"event": "labeled", "label": {"name": "other"}, "actor": {"login": "bot"}}
    )
    github_server.add_event(
        PR, {"event": "labeled", "label": {"name": LABEL}, "actor": {"login": "ml-lead"}}
    )

    result = act(
        tmp_path,
        github_server,
        config(runs, ""),
        event_name="pull_request",
        event=labelled_event([LABEL]),
    )  # a `synchronize` event: no label sender

    assert result.code == 0
    assert result.report["override"] == {"label": LABEL, "by": "ml-lead"}
    assert len(github_server.requests_to("list_events")) == 1
