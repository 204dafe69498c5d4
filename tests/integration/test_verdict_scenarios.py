"""The default verdicts on a real MLflow server: the tuned noise rule, confirm-by-rerun through the
Action's outputs, champion / challenger, and the comparability guard on evaluation datasets.

The history is designed: twenty runs on main alternating 89.5 and 90.5 (mean 90, σ 0.513), each
its own commit, the newest being the PR's base commit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.github_server import FakeGitHub
from mlflow_helpers import RunLogger
from test_entrypoint import BASE, HEAD, run_entrypoint

from mlaction.cli import Outcome
from mlaction.cli import check as check_gate
from mlaction.engine import Settings
from mlaction.gitcontext import GitContext

ConfigWriter = Callable[..., Path]
PR = GitContext(commit=HEAD, base_commit=BASE, base_branch="main", head_branch="feature")
DEFAULT = "metrics:\n  accuracy: {max_regression: 1}\n"  # no `baseline:`, no `noise:`


def log_history(runs: RunLogger) -> None:
    """Twenty runs on main, oldest first; the newest (89.5) is the base commit's run."""
    for i, value in enumerate([90.5, 89.5] * 10):
        commit = BASE if i == 19 else f"{i:040d}"
        runs.log(commit, metrics={"accuracy": value}, name=f"main-{i}")


def gate(runs: RunLogger, write_config: ConfigWriter, body: str) -> Outcome:
    text = f"tracker:\n  uri: {runs.uri}\n  experiment: {runs.experiment}\n  timeout: 10s\n{body}"
    settings = Settings(config_path=write_config(text), git=PR, env={})
    outcome = check_gate(settings, out=io.StringIO())
    assert outcome.report is not None, outcome.error
    return outcome


def check(outcome: Outcome, name: str) -> dict[str, Any]:
    assert outcome.report is not None
    found: list[dict[str, Any]] = [c for c in outcome.report["checks"] if c["name"] == name]
    assert len(found) == 1, [c["name"] for c in outcome.report["checks"]]
    return found[0]


# --- the default config --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "exit_code", "status"),
    [
        (90.2, 0, "pass"),  # no change: 0.2 above the mean
        (88.0, 1, "fail"),  # a 4σ drop: 2 below the mean, beyond noise (1.335) and the allowance
    ],
)
def test_default_config_passes_no_change_and_fails_a_4_sigma_drop(
    runs: RunLogger, write_config: ConfigWriter, value: float, exit_code: int, status: str
) -> None:
    log_history(runs)
    runs.log(HEAD, branch="feature", metrics={"accuracy": value})

    outcome = gate(runs, write_config, DEFAULT)

    assert outcome.exit_code == exit_code
    found = check(outcome, "accuracy.noise")
    assert found["status"] == status
    assert found["rule"] == (
        "noise (auto): pass ≥ 89.3, fail < 88.67 (mean 90 of 20 runs, σ 0.513)"
    )
    assert outcome.report is not None
    assert outcome.report["more_runs"] == 0


# --- confirm by rerun, through the Action -------------------------------------------------------

ACTION_CONFIG = """\
tracker:
  type: mlflow
  experiment: {experiment}
  timeout: 10s
metrics:
  accuracy: {{max_regression: 1}}
{extra}"""


@pytest.mark.parametrize(
    ("extra", "code", "verdict"),
    [("", 1, "fail"), ("confirm: {on_inconclusive: warn}\n", 0, "warn")],
)
def test_ambiguous_first_run_asks_for_seeds_then_passes(
    tmp_path: Path,
    github_server: FakeGitHub,
    runs: RunLogger,
    extra: str,
    code: int,
    verdict: str,
) -> None:
    log_history(runs)
    runs.log(HEAD, branch="feature", metrics={"accuracy": 89.0}, name="seed-0")
    config = ACTION_CONFIG.format(experiment=runs.experiment, extra=extra)

    first = run_entrypoint(tmp_path, github_server, runs, config=config)

    # d = 1.0: beyond q_pass·se (0.698), within the allowance and q_fail·se (1.335): ambiguous
    assert first.code == code, first.stdout
    assert first.outputs["verdict"] == verdict
    assert first.outputs["more-runs"] == "4"
    assert json.loads(first.outputs["failed-checks"]) == ["accuracy.noise"]
    assert "inconclusive: train 4 more seeds of this commit" in first.summary

    for seed in range(1, 5):  # the workflow's matrix trains them
        runs.log(HEAD, branch="feature", metrics={"accuracy": 90.0}, name=f"seed-{seed}")
    second = run_entrypoint(tmp_path, github_server, runs, config=config)

    # mean of 5 runs 89.8: d = 0.2 ≤ pass zone 1 − 1.3277·0.513·√(1/5 + 1/20) = 0.659
    assert second.code == 0, second.stdout
    assert (second.outputs["verdict"], second.outputs["more-runs"]) == ("pass", "0")


# --- champion / challenger ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenger", "exit_code", "status"),
    [
        (92.5, 0, "pass"),  # 2.5 better: beyond I = 1 and beyond noise (2.5395·0.513·√2 = 1.842)
        (89.5, 1, "fail"),  # 0.5 worse: clearly short of I (below 1 − 1.3277·0.7255 = 0.037)
    ],
)
def test_challenger_must_beat_the_champion(
    runs: RunLogger, write_config: ConfigWriter, challenger: float, exit_code: int, status: str
) -> None:
    log_history(runs)
    # trained on a release branch: main's history stays the designed twenty runs
    champion = runs.log("f" * 40, branch="release", metrics={"accuracy": 90.0}, name="champion")
    model = f"model-{runs.experiment}"
    runs.client.create_registered_model(model)
    version = runs.client.create_model_version(model, f"runs:/{champion}/model", run_id=champion)
    runs.client.set_registered_model_alias(model, "champion", version.version)
    runs.log(HEAD, branch="feature", metrics={"accuracy": challenger})

    outcome = gate(
        runs,
        write_config,
        f"baseline: {{select: alias, model: {model}, alias: champion, branch: main}}\n"
        "metrics:\n  accuracy: {min_improvement: 1}\n",
    )

    assert outcome.exit_code == exit_code
    assert outcome.report is not None
    assert outcome.report["baseline"]["id"] == champion
    found = check(outcome, "accuracy.min_improvement")
    assert found["status"] == status
    assert found["rule"] == "gain ≥ 1: pass ≥ 1.842, fail < 0.03676 (noise se 0.7255)"


# --- comparability: the evaluation dataset ------------------------------------------------------


def log_eval_input(runs: RunLogger, run_id: str, digest: str) -> None:
    """`mlflow.log_input(dataset, context="eval")` as the client sends it: a dataset input
    tagged `mlflow.data.context` = eval (mlflow/tracking/fluent.py `log_input`)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(name="eval_dataset", digest=digest, source_type="local", source="/data")
    tag = InputTag(key="mlflow.data.context", value="eval")
    runs.client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset, tags=[tag])])


@pytest.mark.parametrize(
    ("digest", "exit_code"),
    [("v2", 0), ("v3", 1)],
)
def test_evaluation_dataset_digest_must_match(
    runs: RunLogger, write_config: ConfigWriter, digest: str, exit_code: int
) -> None:
    base = runs.log(BASE, metrics={"accuracy": 90.0})
    log_eval_input(runs, base, "v2")
    cand = runs.log(HEAD, branch="feature", metrics={"accuracy": 90.5})
    log_eval_input(runs, cand, digest)

    outcome = gate(
        runs,
        write_config,
        "metrics:\n  accuracy: {max_regression: 1}\ncomparable: {inputs: true}\n",
    )

    assert outcome.exit_code == exit_code
    found = check(outcome, "accuracy.max_regression")
    if digest == "v2":
        assert found["status"] == "pass"
        return
    why = (
        "not comparable: evaluation dataset `eval_dataset` has digest `v3` here and `v2` in the "
        "baseline"
    )
    assert (found["status"], found["message"]) == ("fail", why)
    assert outcome.report is not None
    assert f"Candidate and baseline are {why}." in " ".join(outcome.report["notes"])
