"""The whole gate on a real MLflow server: config -> query -> gate -> report -> exit code."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow_helpers import RunLogger

from mlaction.cli import Outcome
from mlaction.cli import check as check_gate
from mlaction.engine import Settings
from mlaction.gitcontext import GitContext

CAND = "c" * 40
BASE = "b" * 40

ConfigWriter = Callable[..., Path]


def gate(
    runs: RunLogger,
    write_config: ConfigWriter,
    body: str,
    *,
    commit: str | None = CAND,
    base_commit: str | None = None,
    tmp_json: Path | None = None,
) -> Outcome:
    text = f"tracker:\n  uri: {runs.uri}\n  experiment: {runs.experiment}\n  timeout: 10s\n{body}"
    path = write_config(text)
    settings = Settings(
        config_path=path,
        git=GitContext(commit=commit, base_commit=base_commit),
        env={},
    )
    json_path = tmp_json
    return check_gate(settings, out=io.StringIO(), json_path=json_path)


def checks(outcome: Outcome) -> dict[str, dict[str, object]]:
    assert outcome.report is not None, outcome.error
    return {c["name"]: c for c in outcome.report["checks"]}


METRICS = """
baseline: {select: best, branch: main}
metrics:
  accuracy: {min: 0.90, max_regression: 0.02}
  val_loss: {goal: minimize, max_regression: 10%}
"""


def test_pass_against_best_on_main(runs: RunLogger, write_config: ConfigWriter) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.91, "val_loss": 0.30})
    best = runs.log("2" * 40, metrics={"accuracy": 0.93, "val_loss": 0.28})
    runs.log("3" * 40, branch="other", metrics={"accuracy": 0.99, "val_loss": 0.1})
    cand = runs.log(CAND, branch="feature", metrics={"accuracy": 0.925, "val_loss": 0.29})

    outcome = gate(runs, write_config, METRICS)

    assert outcome.exit_code == 0
    report = outcome.report
    assert report is not None
    assert report["verdict"] == "pass"
    assert report["candidate"]["id"] == cand
    assert report["baseline"]["id"] == best  # the other branch's 0.99 is not main
    assert report["candidate"]["url"] == (
        f"{runs.uri}/#/experiments/{runs.experiment_id}/runs/{cand}"
    )
    by_name = checks(outcome)
    assert by_name["accuracy.max_regression"]["baseline_value"] == pytest.approx(0.93)
    assert by_name["val_loss.max_regression"]["status"] == "pass"


def test_regression_beyond_tolerance_fails(runs: RunLogger, write_config: ConfigWriter) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.95, "val_loss": 0.20})
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.92, "val_loss": 0.23})

    outcome = gate(runs, write_config, METRICS)

    assert outcome.exit_code == 1
    by_name = checks(outcome)
    assert by_name["accuracy.min"]["status"] == "pass"
    assert by_name["accuracy.max_regression"]["status"] == "fail"
    assert by_name["val_loss.max_regression"]["status"] == "fail"  # 15% worse, 10% allowed
    assert outcome.report is not None
    assert outcome.report["failed_checks"] == ["accuracy.max_regression", "val_loss.max_regression"]


def test_candidate_that_is_new_best_passes(runs: RunLogger, write_config: ConfigWriter) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.91, "val_loss": 0.30})
    prev_best = runs.log("2" * 40, metrics={"accuracy": 0.92, "val_loss": 0.25})
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.97, "val_loss": 0.2})

    outcome = gate(runs, write_config, METRICS)

    assert outcome.exit_code == 0
    assert outcome.report is not None
    assert outcome.report["baseline"]["id"] == prev_best
    rows = {m["name"]: m for m in outcome.report["metrics"]}
    assert rows["accuracy"]["delta"] == pytest.approx(0.05)
    assert rows["accuracy"]["new_best"] is True


def test_only_finished_runs_are_baselines(runs: RunLogger, write_config: ConfigWriter) -> None:
    finished = runs.log("1" * 40, metrics={"accuracy": 0.91})
    runs.log("2" * 40, metrics={"accuracy": 0.99}, status="FAILED")
    runs.log("3" * 40, metrics={"accuracy": 0.98}, status="RUNNING")
    deleted = runs.log("4" * 40, metrics={"accuracy": 0.97})
    runs.client.delete_run(deleted)
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.905})

    outcome = gate(runs, write_config, "metrics:\n  accuracy: {max_regression: 0.02}\n")

    assert outcome.report is not None
    assert outcome.report["baseline"]["id"] == finished
    assert outcome.exit_code == 0


def test_missing_and_nan_metrics_fail_and_say_which(
    runs: RunLogger, write_config: ConfigWriter, tmp_path: Path
) -> None:
    runs.log("1" * 40, metrics={"accuracy": 0.9, "f1": 0.9})
    runs.log(CAND, branch="feature", metrics={"accuracy": math.nan})
    report_path = tmp_path / "report.json"

    outcome = gate(
        runs,
        write_config,
        "metrics:\n  accuracy: {min: 0.5}\n  f1: {min: 0.5}\n",
        tmp_json=report_path,
    )

    assert outcome.exit_code == 1
    by_name = checks(outcome)
    assert by_name["accuracy.min"]["status"] == "fail"
    assert "`accuracy` is NaN" in str(by_name["accuracy.min"]["message"])
    assert by_name["f1.min"]["status"] == "fail"
    assert "`f1` is missing from the candidate run" in str(by_name["f1.min"]["message"])
    text = report_path.read_text()

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the JSON report")

    data = json.loads(text, parse_constant=no_constants)  # strict JSON: NaN written as null
    assert data["candidate"]["metrics"]["accuracy"] is None
    assert data["checks"][0]["observed"] is None


def test_no_baseline_skips_regression_visibly(runs: RunLogger, write_config: ConfigWriter) -> None:
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.95})

    outcome = gate(
        runs,
        write_config,
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.9, max_regression: 0.01}\n",
    )

    assert outcome.exit_code == 0
    by_name = checks(outcome)
    assert by_name["accuracy.max_regression"]["status"] == "skip"
    assert outcome.report is not None
    assert outcome.report["baseline"] is None
    assert "regression checks are skipped" in outcome.report["notes"][0]
    assert outcome.markdown is not None
    assert "regression checks are skipped" in outcome.markdown


def test_warn_mode_reports_but_passes(runs: RunLogger, write_config: ConfigWriter) -> None:
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.5})

    outcome = gate(runs, write_config, "metrics:\n  accuracy: {min: 0.9}\non_failure: warn\n")

    assert outcome.exit_code == 0
    assert outcome.report is not None
    assert outcome.report["verdict"] == "warn"
    assert outcome.report["failed_checks"] == ["accuracy.min"]
    assert checks(outcome)["accuracy.min"]["status"] == "warn"


@pytest.mark.parametrize("metric", ["val.accuracy", "top-1 acc", "f1-macro"])
def test_metric_names_with_dots_dashes_spaces(
    runs: RunLogger, write_config: ConfigWriter, metric: str
) -> None:
    runs.log("1" * 40, metrics={metric: 0.90})
    best = runs.log("2" * 40, metrics={metric: 0.95})
    runs.log(CAND, branch="feature", metrics={metric: 0.91})

    outcome = gate(runs, write_config, f"metrics:\n  '{metric}': {{max_regression: 0.01}}\n")

    assert outcome.report is not None, outcome.error
    assert outcome.report["baseline"]["id"] == best
    assert outcome.exit_code == 1


def test_candidate_by_plain_git_commit_tag(runs: RunLogger, write_config: ConfigWriter) -> None:
    cand = runs.log(CAND, metrics={"accuracy": 0.95}, commit_tag="git_commit")

    outcome = gate(runs, write_config, "metrics:\n  accuracy: {min: 0.9}\n")

    assert outcome.report is not None, outcome.error
    assert outcome.report["candidate"]["id"] == cand


def test_latest_and_run_id_selection(runs: RunLogger, write_config: ConfigWriter) -> None:
    first = runs.log("1" * 40, metrics={"accuracy": 0.97})
    second = runs.log("2" * 40, metrics={"accuracy": 0.93})
    third = runs.log("3" * 40, metrics={"accuracy": 0.92})

    outcome = gate(
        runs,
        write_config,
        f"candidate: {{select: run_id, run_id: {second}}}\n"
        "baseline: {select: latest}\nmetrics:\n  accuracy: {max_regression: 0.02}\n",
        commit=None,
    )
    assert outcome.report is not None, outcome.error
    assert outcome.report["candidate"]["id"] == second
    assert outcome.report["baseline"]["id"] == third

    outcome = gate(
        runs,
        write_config,
        f"candidate: {{select: latest}}\nbaseline: {{select: run_id, run_id: {first}}}\n"
        "metrics:\n  accuracy: {max_regression: 0.02}\n",
        commit=None,
    )
    assert outcome.report is not None, outcome.error
    assert outcome.report["candidate"]["id"] == third
    assert outcome.report["baseline"]["id"] == first
    assert outcome.exit_code == 1  # 0.92 vs 0.97


def test_base_commit_baseline_and_fallback(runs: RunLogger, write_config: ConfigWriter) -> None:
    base = runs.log(BASE, metrics={"accuracy": 0.90})
    latest = runs.log("1" * 40, metrics={"accuracy": 0.80})
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.89})
    body = (
        "baseline: {select: base_commit, branch: main}\n"
        "metrics:\n  accuracy: {max_regression: 0.02}\n"
    )

    outcome = gate(runs, write_config, body, base_commit=BASE)
    assert outcome.report is not None, outcome.error
    assert outcome.report["baseline"]["id"] == base
    assert "base commit" in outcome.report["baseline_reason"]

    outcome = gate(runs, write_config, body, base_commit="d" * 40)
    assert outcome.report is not None
    assert outcome.report["baseline"]["id"] == latest
    assert "fell back to the latest finished run" in outcome.report["baseline_reason"]


def test_registry_alias_baseline(runs: RunLogger, write_config: ConfigWriter) -> None:
    champion = runs.log("1" * 40, metrics={"accuracy": 0.96})
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.93})
    model = f"model-{runs.experiment}"
    runs.client.create_registered_model(model)
    version = runs.client.create_model_version(model, f"runs:/{champion}/model", run_id=champion)
    runs.client.set_registered_model_alias(model, "champion", version.version)

    outcome = gate(
        runs,
        write_config,
        f"baseline: {{select: alias, model: {model}, alias: champion}}\n"
        "metrics:\n  accuracy: {max_regression: 0.01}\n",
    )

    assert outcome.report is not None, outcome.error
    assert outcome.report["baseline"]["id"] == champion
    assert outcome.report["baseline_model"] == {
        "model": model,
        "version": str(version.version),
        "alias": "champion",
    }
    assert outcome.exit_code == 1

    outcome = gate(
        runs,
        write_config,
        f"baseline: {{select: alias, model: {model}, alias: nope}}\n"
        "metrics:\n  accuracy: {max_regression: 0.01}\n",
    )
    assert outcome.exit_code == 2
    assert outcome.error is not None
    assert f"registered model `{model}` has no alias `nope`" in str(outcome.error)


def test_run_rules(runs: RunLogger, write_config: ConfigWriter) -> None:
    cand = runs.log(
        CAND,
        metrics={"accuracy": 0.95},
        params={"lr": "0.1"},
        tags={"dataset": "v3"},
        duration_s=7200,
    )
    runs.client.log_text(cand, "hello", "model/MLmodel")

    outcome = gate(
        runs,
        write_config,
        "metrics:\n  accuracy: {min: 0.9}\n"
        "run:\n  max_duration: 1h\n  max_age: 7d\n  required_params: [lr, epochs]\n"
        "  required_tags: [dataset]\n  required_artifacts: [model/MLmodel, model.pkl]\n",
    )

    by_name = checks(outcome)
    assert by_name["run.max_duration"]["status"] == "fail"
    assert by_name["run.max_duration"]["observed"] == pytest.approx(7200)
    assert by_name["run.max_age"]["status"] == "pass"
    assert by_name["run.required_params"]["message"] == "missing param: `epochs`"
    assert by_name["run.required_tags"]["status"] == "pass"
    assert by_name["run.required_artifacts"]["message"] == "missing artifact: `model.pkl`"
    assert outcome.exit_code == 1


def test_history_feeds_the_trend(runs: RunLogger, write_config: ConfigWriter) -> None:
    for i, value in enumerate([0.90, 0.91, 0.92, 0.93]):
        runs.log(f"{i}" * 40, metrics={"accuracy": value})
    runs.log(CAND, branch="feature", metrics={"accuracy": 0.935})

    outcome = gate(
        runs,
        write_config,
        "baseline: {branch: main}\nmetrics:\n  accuracy: {min: 0.5}\ncomment: {history: 3}\n",
    )

    assert outcome.report is not None
    row = outcome.report["metrics"][0]
    assert row["trend"] == pytest.approx([0.91, 0.92, 0.93])  # oldest first, last 3
    assert outcome.report["history_runs"] == 3
    assert "▁▄▇→█" in (outcome.markdown or "")


def test_branch_from_a_plain_git_branch_tag(runs: RunLogger, write_config: ConfigWriter) -> None:
    best = runs.log("1" * 40, branch=None, tags={"git_branch": "main"}, metrics={"accuracy": 0.9})
    runs.log("2" * 40, branch=None, tags={"git_branch": "dev"}, metrics={"accuracy": 0.99})
    runs.log(CAND, branch=None, tags={"git_branch": "feature"}, metrics={"accuracy": 0.89})

    outcome = gate(
        runs,
        write_config,
        "baseline: {branch: main}\nmetrics:\n  accuracy: {max_regression: 0.02}\n",
    )

    assert outcome.report is not None, outcome.error
    assert outcome.report["baseline"]["id"] == best
    assert outcome.report["baseline"]["branch"] == "main"
    assert outcome.exit_code == 0
