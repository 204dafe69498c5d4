"""`comparable.inputs` on W&B: the artifacts a run used (`Run.used_artifacts()`, GraphQL
`RunInputArtifacts`), read by the REAL wandb client from the loopback fake."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from backends import WandbBackend
from fakes.wandb_server import FakeWandbServer

from mlaction.cli import Outcome
from mlaction.cli import check as check_gate
from mlaction.config import TrackerConfig
from mlaction.engine import Settings
from mlaction.gitcontext import GitContext
from mlaction.runs import DatasetInput
from mlaction.trackers.wandb import create

pytest.importorskip("wandb")

E, P = "acme", "iris"
CAND, BASE = "c" * 40, "b" * 40
ConfigWriter = Callable[..., Path]


def test_used_datasets_are_the_artifacts_the_run_used(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="r1")
    wandb_server.add_run(E, P, id="r2")
    v0 = wandb_server.add_artifact(E, P, "eval-set", type="dataset")
    v1 = wandb_server.add_artifact(E, P, "eval-set", type="dataset")
    v1.used_by.append("r1")
    other = wandb_server.add_artifact(E, P, "holdout", type="dataset")
    other.used_by.extend(["r1", "r2"])
    wandb_server.add_artifact(E, P, "model", logged_by="r1")  # logged, not used
    v0.used_by.append("r2")
    tracker = create(TrackerConfig.model_validate({"type": "wandb", "experiment": f"{E}/{P}"}))

    assert tracker.used_datasets("r1") == (
        DatasetInput("eval-set", f"digest-{v1.id}", None),
        DatasetInput("holdout", f"digest-{other.id}", None),
    )
    assert tracker.used_datasets("r2") == (
        DatasetInput("eval-set", f"digest-{v0.id}", None),
        DatasetInput("holdout", f"digest-{other.id}", None),
    )
    assert "RunInputArtifacts" in wandb_server.operations


def test_a_run_that_used_nothing(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="r1")
    tracker = create(TrackerConfig.model_validate({"type": "wandb", "experiment": f"{E}/{P}"}))
    assert tracker.used_datasets("r1") == ()


def gate(backend: WandbBackend, write_config: ConfigWriter) -> Outcome:
    body = (
        "baseline: {select: base_commit, branch: main}\n"
        "metrics:\n  accuracy: {max_regression: 0.05, noise: false}\n"
        "comparable: {inputs: true}\n"
    )
    git = GitContext(commit=CAND, base_commit=BASE, base_branch="main", head_branch="feature")
    settings = Settings(config_path=write_config(backend.config_header() + body), git=git, env={})
    outcome = check_gate(settings, out=io.StringIO())
    assert outcome.report is not None, outcome.error
    return outcome


@pytest.mark.parametrize("same", [True, False])
def test_gate_refuses_scores_on_different_evaluation_sets(
    wandb_server: FakeWandbServer, write_config: ConfigWriter, same: bool
) -> None:
    backend = WandbBackend(wandb_server, E, P)
    base = backend.log(BASE, metrics={"accuracy": 0.90})
    cand = backend.log(CAND, branch="feature", metrics={"accuracy": 0.91})
    v0 = wandb_server.add_artifact(E, P, "eval-set", type="dataset")
    v1 = wandb_server.add_artifact(E, P, "eval-set", type="dataset")
    v0.used_by.append(base)
    (v0 if same else v1).used_by.append(cand)

    outcome = gate(backend, write_config)

    assert outcome.report is not None
    found = next(c for c in outcome.report["checks"] if c["name"] == "accuracy.max_regression")
    if same:
        assert (outcome.exit_code, found["status"]) == (0, "pass")
        return
    assert (outcome.exit_code, found["status"]) == (1, "fail")
    assert found["message"] == (
        f"not comparable: evaluation dataset `eval-set` has digest `digest-{v1.id}` here and "
        f"`digest-{v0.id}` in the baseline"
    )
