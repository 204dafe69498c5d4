"""The gate scenarios, once, on both trackers: config -> query -> gate -> report -> exit code.

Each scenario logs runs through a `Backend` (tests/backends.py): real MLflow runs on the real
server, or W&B runs in the loopback fake read by the real wandb client. Everything is asserted
on what `mlaction.action.run` returns: exit code, verdict, candidate/baseline, checks.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from backends import Backend, MlflowBackend, WandbBackend
from fakes.wandb_server import FakeWandbServer

from mlaction.cli import Outcome
from mlaction.cli import check as check_gate
from mlaction.engine import Settings
from mlaction.gitcontext import GitContext

CAND = "c" * 40
ConfigWriter = Callable[..., Path]


@pytest.fixture(params=["mlflow", "wandb"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each scenario once per tracker (the MLflow server starts only for the mlflow half)."""
    if request.param == "mlflow":
        return MlflowBackend(request.getfixturevalue("runs"))
    return WandbBackend(request.getfixturevalue("wandb_server"))


@pytest.fixture
def wandb(wandb_server: FakeWandbServer) -> WandbBackend:
    return WandbBackend(wandb_server)


def gate(
    backend: Backend, write_config: ConfigWriter, body: str, *, commit: str | None = CAND
) -> Outcome:
    path = write_config(backend.config_header() + body)
    settings = Settings(config_path=path, git=GitContext(commit=commit), env={})
    return check_gate(settings, out=io.StringIO())


def report(outcome: Outcome) -> dict[str, Any]:
    assert outcome.report is not None, outcome.error
    return outcome.report


def checks(outcome: Outcome) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report(outcome)["checks"]}


def statuses(outcome: Outcome) -> dict[str, str]:
    return {name: c["status"] for name, c in checks(outcome).items()}


METRICS = """
baseline: {select: best, branch: main}
metrics:
  accuracy: {min: 0.90, max_regression: 0.02}
  val_loss: {goal: minimize, max_regression: 10%}
"""


def test_pass(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log("1" * 40, metrics={"accuracy": 0.91, "val_loss": 0.30})
    best = backend.log("2" * 40, metrics={"accuracy": 0.93, "val_loss": 0.28})
    cand = backend.log(CAND, branch="feature", metrics={"accuracy": 0.925, "val_loss": 0.29})

    outcome = gate(backend, write_config, METRICS)

    rep = report(outcome)
    assert (outcome.exit_code, rep["verdict"], rep["failed_checks"]) == (0, "pass", [])
    assert (rep["candidate"]["id"], rep["baseline"]["id"]) == (cand, best)
    assert set(statuses(outcome).values()) == {"pass"}
    assert checks(outcome)["accuracy.max_regression"]["baseline_value"] == pytest.approx(0.93)


def test_min_fails(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log(CAND, metrics={"accuracy": 0.85})

    outcome = gate(backend, write_config, "metrics:\n  accuracy: {min: 0.9}\n")

    assert outcome.exit_code == 1
    assert report(outcome)["verdict"] == "fail"
    assert report(outcome)["failed_checks"] == ["accuracy.min"]
    assert checks(outcome)["accuracy.min"]["message"] == "`accuracy` = 0.85, must be at least 0.9"


def test_regression_absolute_and_relative_minimize_fail(
    backend: Backend, write_config: ConfigWriter
) -> None:
    base = backend.log("1" * 40, metrics={"accuracy": 0.95, "val_loss": 0.20})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.92, "val_loss": 0.23})

    outcome = gate(backend, write_config, METRICS)

    assert outcome.exit_code == 1
    assert report(outcome)["baseline"]["id"] == base
    assert statuses(outcome) == {
        "accuracy.min": "pass",
        "accuracy.max_regression": "fail",
        "val_loss.max_regression": "fail",  # 0.23 is 15% worse than 0.20; 10% allowed
    }
    by_name = checks(outcome)
    assert "0.03 worse (allowed: 0.02)" in by_name["accuracy.max_regression"]["message"]
    assert "(allowed: 0.02 (10% of 0.2))" in by_name["val_loss.max_regression"]["message"]
    failed = ["accuracy.max_regression", "val_loss.max_regression"]
    assert report(outcome)["failed_checks"] == failed


def test_improvement_passes(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log("1" * 40, metrics={"accuracy": 0.91, "val_loss": 0.30})
    prev_best = backend.log("2" * 40, metrics={"accuracy": 0.92, "val_loss": 0.25})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.97, "val_loss": 0.20})

    outcome = gate(backend, write_config, METRICS)

    assert outcome.exit_code == 0
    assert report(outcome)["baseline"]["id"] == prev_best
    assert "improved by 0.05" in checks(outcome)["accuracy.max_regression"]["message"]
    rows = {m["name"]: m for m in report(outcome)["metrics"]}
    assert rows["accuracy"]["delta"] == pytest.approx(0.05)
    assert rows["accuracy"]["new_best"] is True
    assert rows["val_loss"]["new_best"] is True  # minimize: lower is the new best


def test_missing_metric_fails_naming_it(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log(CAND, metrics={"accuracy": 0.95})

    outcome = gate(backend, write_config, "metrics:\n  accuracy: {min: 0.9}\n  f1: {min: 0.5}\n")

    assert outcome.exit_code == 1
    assert statuses(outcome) == {"accuracy.min": "pass", "f1.min": "fail"}
    assert "metric `f1` is missing from the candidate run" in checks(outcome)["f1.min"]["message"]


def test_nan_metric_fails(backend: Backend, write_config: ConfigWriter) -> None:
    metrics = {f"m{i}": nan for i, nan in enumerate(backend.nan_forms)}
    backend.log(CAND, metrics=metrics)
    rules = "".join(f"  {name}: {{min: 0.5}}\n" for name in metrics)

    outcome = gate(backend, write_config, "metrics:\n" + rules)

    assert outcome.exit_code == 1
    for name in metrics:
        check = checks(outcome)[f"{name}.min"]
        assert check["status"] == "fail"
        assert f"metric `{name}` is NaN in the candidate run" in check["message"]
        assert check["observed"] is None  # strict JSON: NaN is written as null
        assert report(outcome)["candidate"]["metrics"][name] is None


def test_no_baseline_skips_regression_with_a_note(
    backend: Backend, write_config: ConfigWriter
) -> None:
    backend.log("1" * 40, metrics={"accuracy": 0.99})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.95})

    outcome = gate(
        backend,
        write_config,
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.9, max_regression: 0.01}\n",
    )

    assert outcome.exit_code == 0
    assert report(outcome)["baseline"] is None
    assert statuses(outcome) == {"accuracy.min": "pass", "accuracy.max_regression": "skip"}
    assert "regression checks are skipped" in report(outcome)["notes"][0]
    assert "regression checks are skipped" in (outcome.markdown or "")


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_nan_run_is_never_the_best_baseline(
    backend: Backend, write_config: ConfigWriter, goal: str
) -> None:
    """A diverged run (NaN, in every form the tracker stores it) is not "the best so far"."""
    sign = 1 if goal == "maximize" else -1
    real = backend.log("1" * 40, metrics={"acc": sign * 0.90})
    for i, nan in enumerate(backend.nan_forms):
        backend.log(f"{i + 2}" * 40, metrics={"acc": nan})
    backend.log(CAND, branch="feature", metrics={"acc": sign * 0.95})  # the new best

    outcome = gate(
        backend,
        write_config,
        f"baseline: {{select: best}}\nmetrics:\n  acc: {{goal: {goal}, max_regression: 0}}\n",
    )

    assert report(outcome)["baseline"]["id"] == real
    assert statuses(outcome) == {"acc.max_regression": "pass"}
    assert outcome.exit_code == 0


def test_warn_mode_reports_but_exits_zero(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log(CAND, metrics={"accuracy": 0.5})

    outcome = gate(backend, write_config, "metrics:\n  accuracy: {min: 0.9}\non_failure: warn\n")

    assert outcome.exit_code == 0
    assert report(outcome)["verdict"] == "warn"
    assert report(outcome)["failed_checks"] == ["accuracy.min"]
    assert statuses(outcome) == {"accuracy.min": "warn"}
    assert any("on_failure: warn" in note for note in report(outcome)["notes"])


def test_best_on_main_ignores_other_branches(backend: Backend, write_config: ConfigWriter) -> None:
    main = backend.log("1" * 40, metrics={"accuracy": 0.93})
    backend.log("2" * 40, branch="experiment", metrics={"accuracy": 0.99})
    backend.log("3" * 40, branch=None, metrics={"accuracy": 0.98})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.92})

    outcome = gate(
        backend,
        write_config,
        "baseline: {branch: main}\nmetrics:\n  accuracy: {max_regression: 0.02}\n",
    )

    assert report(outcome)["baseline"]["id"] == main  # 0.99 and 0.98 are not on main
    assert "on branch `main`" in report(outcome)["baseline_reason"]
    assert outcome.exit_code == 0


def test_only_finished_runs_are_baselines(backend: Backend, write_config: ConfigWriter) -> None:
    finished = backend.log("1" * 40, metrics={"accuracy": 0.91})
    backend.log("2" * 40, metrics={"accuracy": 0.99}, state="failed")
    backend.log("3" * 40, metrics={"accuracy": 0.98}, state="running")
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.905})

    outcome = gate(backend, write_config, "metrics:\n  accuracy: {max_regression: 0.02}\n")

    assert report(outcome)["baseline"]["id"] == finished
    assert outcome.exit_code == 0


def test_latest_baseline(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log("1" * 40, metrics={"accuracy": 0.97})
    latest = backend.log("2" * 40, metrics={"accuracy": 0.93})
    backend.log("3" * 40, metrics={"accuracy": 0.50}, state="failed")
    backend.log("4" * 40, branch="other", metrics={"accuracy": 0.40})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.92})

    outcome = gate(
        backend,
        write_config,
        "baseline: {select: latest, branch: main}\nmetrics:\n  accuracy: {max_regression: 0.02}\n",
    )

    assert report(outcome)["baseline"]["id"] == latest  # not the best (0.97): it would fail
    assert "latest finished run on branch `main`" in report(outcome)["baseline_reason"]
    assert outcome.exit_code == 0


def test_candidate_by_run_id(backend: Backend, write_config: ConfigWriter) -> None:
    backend.log("1" * 40, metrics={"accuracy": 0.97})
    chosen = backend.log("2" * 40, metrics={"accuracy": 0.90})
    newest = backend.log("3" * 40, metrics={"accuracy": 0.93})

    outcome = gate(
        backend,
        write_config,
        f"candidate: {{select: run_id, run_id: {chosen}}}\n"
        "baseline: {select: latest}\nmetrics:\n  accuracy: {max_regression: 0.02}\n",
        commit=None,
    )

    assert report(outcome)["candidate"]["id"] == chosen
    assert report(outcome)["baseline"]["id"] == newest
    assert outcome.exit_code == 1  # 0.90 vs 0.93


@pytest.mark.parametrize(
    ("required", "failing", "message"),
    [
        ("{required_params: [lr], required_tags: [dataset-v3]}", None, None),
        ("{required_params: [lr, epochs]}", "run.required_params", "missing param: `epochs`"),
        ("{required_tags: [dataset-v3, nightly]}", "run.required_tags", "missing tag: `nightly`"),
    ],
)
def test_required_params_and_tags(
    backend: Backend,
    write_config: ConfigWriter,
    required: str,
    failing: str | None,
    message: str | None,
) -> None:
    backend.log(CAND, metrics={"accuracy": 0.95}, params={"lr": "0.1"}, tags=["dataset-v3"])

    outcome = gate(backend, write_config, f"metrics:\n  accuracy: {{min: 0.9}}\nrun: {required}\n")

    run_checks = {k: v for k, v in checks(outcome).items() if k.startswith("run.required")}
    assert run_checks, "no required_* check was made"
    for name, check in run_checks.items():
        assert check["status"] == ("fail" if name == failing else "pass"), check
    if failing is not None:
        assert run_checks[failing]["message"] == message
    assert outcome.exit_code == (1 if failing else 0)


def test_history_feeds_the_trend(backend: Backend, write_config: ConfigWriter) -> None:
    for i, value in enumerate([0.90, 0.91, 0.92]):
        backend.log(f"{i}" * 40, metrics={"accuracy": value})
    backend.log("7" * 40, branch="other", metrics={"accuracy": 0.5})
    backend.log("8" * 40, metrics={"accuracy": 0.6}, state="failed")
    backend.log("9" * 40, metrics={"accuracy": 0.93})
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.935})

    outcome = gate(
        backend,
        write_config,
        "baseline: {branch: main}\nmetrics:\n  accuracy: {min: 0.5}\ncomment: {history: 3}\n",
    )

    row = report(outcome)["metrics"][0]
    assert row["trend"] == pytest.approx([0.91, 0.92, 0.93])  # oldest first, finished, on main
    assert row["new_best"] is True
    assert report(outcome)["history_runs"] == 3


@pytest.mark.parametrize("metric", ["val.accuracy", "f1-macro", "val/acc"])
def test_metric_names_with_dots_and_dashes(
    backend: Backend, write_config: ConfigWriter, metric: str
) -> None:
    backend.log("1" * 40, metrics={metric: 0.90})
    best = backend.log("2" * 40, metrics={metric: 0.95})
    backend.log(CAND, branch="feature", metrics={metric: 0.91})

    outcome = gate(backend, write_config, f"metrics:\n  '{metric}': {{max_regression: 0.01}}\n")

    assert report(outcome)["baseline"]["id"] == best
    check = checks(outcome)[f"{metric}.max_regression"]
    assert (check["observed"], check["baseline_value"]) == (pytest.approx(0.91), 0.95)
    assert outcome.exit_code == 1


def test_alias_baseline_is_the_run_that_logged_the_model(
    backend: Backend, write_config: ConfigWriter
) -> None:
    champion = backend.log("1" * 40, metrics={"accuracy": 0.96})
    backend.log("2" * 40, metrics={"accuracy": 0.99})  # better, but not the champion
    backend.log(CAND, branch="feature", metrics={"accuracy": 0.95})
    model, version = backend.set_alias("iris-model", "champion", champion)

    outcome = gate(
        backend,
        write_config,
        f"baseline: {{select: alias, model: {model}, alias: champion}}\n"
        "metrics:\n  accuracy: {max_regression: 0.02}\n",
    )

    assert report(outcome)["baseline"]["id"] == champion
    expected = {"model": model, "version": version, "alias": "champion"}
    assert report(outcome)["baseline_model"] == expected
    assert outcome.exit_code == 0  # 0.95 vs 0.96 (vs 0.99 it would fail)


# --- W&B only ---------------------------------------------------------------------------------


def test_wandb_define_metric_max_summary(wandb: WandbBackend, write_config: ConfigWriter) -> None:
    """`define_metric("accuracy", summary="max")` writes {"accuracy": {"max": ...}}."""
    best = wandb.log("1" * 40, summary={"accuracy": {"max": 0.97, "last": 0.80}})
    wandb.log("2" * 40, summary={"accuracy": {"max": 0.93, "last": 0.95}})
    wandb.log(CAND, branch="feature", summary={"accuracy": {"max": 0.955, "last": 0.99}})

    outcome = gate(
        wandb,
        write_config,
        "baseline: {select: best}\nmetrics:\n  accuracy.max: {max_regression: 0.01}\n",
    )

    assert report(outcome)["baseline"]["id"] == best  # ranked by the max, not the last value
    check = checks(outcome)["accuracy.max.max_regression"]
    assert (check["observed"], check["baseline_value"]) == (pytest.approx(0.955), 0.97)
    assert check["status"] == "fail"
    assert outcome.exit_code == 1


SWEEP = (0.88, 0.93, 0.91)


def test_wandb_candidate_is_the_best_run_of_a_sweep(
    wandb: WandbBackend, write_config: ConfigWriter
) -> None:
    sweep = {"method": "random", "metric": {"name": "val_acc", "goal": "maximize"}}
    wandb.server.add_sweep(wandb.entity, wandb.project, "sw1", config=sweep)
    main = wandb.log("1" * 40, metrics={"val_acc": 0.90})
    wandb.log("2" * 40, branch="feature", metrics={"val_acc": 0.99})  # not in the sweep
    ids = [wandb.log(None, branch=None, metrics={"val_acc": v}, sweep="sw1") for v in SWEEP]
    wandb.log(None, branch=None, metrics={"val_acc": 0.98}, sweep="sw1", state="running")

    outcome = gate(
        wandb,
        write_config,
        "candidate: {select: sweep_best, sweep: sw1}\nbaseline: {branch: main}\n"
        "metrics:\n  val_acc: {max_regression: 0.01}\n",
        commit=None,
    )

    assert report(outcome)["candidate"]["id"] == ids[1]  # 0.93: 0.98 is still running
    assert report(outcome)["baseline"]["id"] == main
    assert checks(outcome)["val_acc.max_regression"]["observed"] == pytest.approx(0.93)
    assert outcome.exit_code == 0


def test_wandb_sweep_best_skips_a_diverged_run(
    wandb: WandbBackend, write_config: ConfigWriter
) -> None:
    sweep = {"method": "random", "metric": {"name": "val_acc", "goal": "maximize"}}
    wandb.server.add_sweep(wandb.entity, wandb.project, "sw1", config=sweep)
    good = wandb.log(None, metrics={"val_acc": 0.93}, sweep="sw1")
    for nan in wandb.nan_forms:
        wandb.log(None, metrics={"val_acc": nan}, sweep="sw1")

    outcome = gate(
        wandb,
        write_config,
        "candidate: {select: sweep_best, sweep: sw1}\nbaseline: {select: none}\n"
        "metrics:\n  val_acc: {min: 0.5}\n",
        commit=None,
    )

    assert report(outcome)["candidate"]["id"] == good
    assert outcome.exit_code == 0


def test_wandb_gate_cost_does_not_grow_with_the_project(
    wandb_server: FakeWandbServer, write_config: ConfigWriter
) -> None:
    """One full gate costs the same number of requests for 100 runs and for 10,000."""
    cost: dict[int, int] = {}
    operations: dict[int, list[str]] = {}
    for size in (100, 10_000):
        project = WandbBackend(wandb_server, project=f"p{size}")
        for i in range(size):
            branch = "main" if i % 2 else "other"
            project.log(f"{i:040x}", branch=branch, metrics={"accuracy": 0.4 + i / size / 2})
        project.log(CAND, branch="feature", metrics={"accuracy": 0.75})
        before, ops_before = wandb_server.requests, len(wandb_server.operations)

        outcome = gate(
            project,
            write_config,
            "baseline: {select: best, branch: main}\n"
            "metrics:\n  accuracy: {min: 0.5, max_regression: 0.5}\n",
        )

        cost[size] = wandb_server.requests - before
        operations[size] = wandb_server.operations[ops_before:]
        assert report(outcome)["candidate"]["metrics"]["accuracy"] == pytest.approx(0.75)
        assert report(outcome)["baseline"]["id"] == f"run{size - 1}"  # the best run on main
        assert report(outcome)["history_runs"] == 20
        assert outcome.exit_code == 0
    assert cost[100] == cost[10_000] == 5
    # connect, then one page each: candidate (by `config.git_commit`, then by W&B's `commit`),
    # best (bounded by the candidate's value), history
    assert operations[100] == operations[10_000] == ["Viewer", "Runs", "Runs", "Runs", "Runs"]
