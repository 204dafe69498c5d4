"""The in-memory tracker (tests/fakes/memory_tracker.py) answers RunQuery as a real MLflow server
does: the same runs, logged to `mlflow server` and copied into the fake, give the same run ids in
the same order for every query shape ml-gate sends, NaN and infinite metrics included; and, with
`flavour="wandb"`, as the real wandb client against the loopback W&B server does."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from fakes.memory_tracker import EPOCH, MemoryTracker
from fakes.wandb_server import FakeWandbServer
from mlflow_helpers import RunLogger

from mlaction.config import TrackerConfig
from mlaction.trackers import build_tracker
from mlaction.trackers.base import MetricBound, RunQuery, Tracker

A, B, C, D = "a" * 40, "b" * 40, "c" * 40, "d" * 40

QUERIES = [
    RunQuery(limit=100, finished_only=False),
    RunQuery(limit=3),
    RunQuery(limit=100, branch="main"),
    RunQuery(limit=100, commits=(A,), finished_only=False),
    RunQuery(limit=100, commits=(B, C, D)),
    RunQuery(limit=2, commits=(B, C), branch="main"),
    RunQuery(limit=100, order_by="accuracy"),
    RunQuery(limit=100, order_by="accuracy", descending=False),
    RunQuery(limit=3, order_by="accuracy", branch="main"),
    RunQuery(limit=100, order_by="loss", finished_only=False),
    RunQuery(limit=100, bound=MetricBound("accuracy", ">=", 0.8)),
    RunQuery(limit=100, bound=MetricBound("accuracy", "<", 0.8), order_by="accuracy"),
    RunQuery(limit=100, extra_filter="params.dataset = 'v2'"),
    RunQuery(limit=100, extra_filter="params.dataset != 'v2' and metrics.accuracy > 0.7"),
    RunQuery(limit=100, extra_filter='tags.`team name` = "vision"'),
    RunQuery(limit=100, extra_filter="metrics.accuracy != 0.9", finished_only=False),
]


@pytest.fixture
def both(runs: RunLogger) -> tuple[Tracker, MemoryTracker]:
    runs.log(A, metrics={"accuracy": 0.70, "loss": 0.5}, params={"dataset": "v1"})
    runs.log(A, status="RUNNING", metrics={"accuracy": 0.95})
    runs.log(B, metrics={"accuracy": 0.90}, params={"dataset": "v2"})
    runs.log(B, branch="feature", metrics={"accuracy": 0.92, "loss": math.nan})
    runs.log(C, metrics={"accuracy": math.nan, "loss": 0.3}, tags={"team name": "vision"})
    runs.log(C, metrics={"accuracy": math.inf}, params={"dataset": "v2"})
    runs.log(D, branch=None, metrics={"accuracy": -math.inf})
    runs.log(D, metrics={"loss": 0.2})  # no accuracy
    runs.log(None, metrics={"accuracy": 0.80}, params={"dataset": "v1"})
    runs.log(B, status="FAILED", metrics={"accuracy": 0.85})
    runs.log(C, metrics={"accuracy": 0.90})  # ties with the other 0.90
    real = build_tracker(TrackerConfig(uri=runs.uri, experiment=runs.experiment))
    fake = MemoryTracker(real.search(RunQuery(limit=100, finished_only=False)))
    assert len(fake.runs) == 11
    return real, fake


@pytest.mark.parametrize("query", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_the_fake_orders_and_filters_as_mlflow_does(
    both: tuple[Tracker, MemoryTracker], query: RunQuery
) -> None:
    real, fake = both

    expected = [r.id for r in real.search(query)]

    assert [r.id for r in fake.search(query)] == expected
    assert fake.queries == [query]


def test_a_filter_the_fake_cannot_read_is_refused(both: tuple[Tracker, MemoryTracker]) -> None:
    _, fake = both

    with pytest.raises(NotImplementedError, match="cannot evaluate"):
        fake.search(RunQuery(extra_filter="params.dataset LIKE 'v%'"))
    with pytest.raises(NotImplementedError, match="quoted string"):
        fake.search(RunQuery(extra_filter="params.dataset > 'v1'"))


# W&B: the same comparison through the real wandb client and the loopback W&B server, whose
# filters and sort (tests/fakes/wandb_server.py) follow W&B's. Metric values differ run to run:
# W&B documents no order for ties.
W_QUERIES = [
    RunQuery(limit=100, finished_only=False),
    RunQuery(limit=2),
    RunQuery(limit=100, branch="main"),
    RunQuery(limit=100, commits=(B, C), finished_only=False),
    RunQuery(limit=100, order_by="accuracy"),
    RunQuery(limit=100, order_by="accuracy", descending=False),
    RunQuery(limit=2, order_by="accuracy", descending=False, branch="main"),
    RunQuery(limit=100, bound=MetricBound("accuracy", ">", 0.75)),
]


@pytest.fixture
def both_wandb(wandb_server: FakeWandbServer) -> tuple[Tracker, MemoryTracker]:
    entity, project = "acme", "iris"
    wandb_server.add_project(entity, project)
    rows: list[tuple[str | None, str, str, dict[str, Any]]] = [
        (A, "main", "finished", {"accuracy": 0.70}),
        (A, "main", "running", {"accuracy": 0.95}),
        (B, "main", "finished", {"accuracy": 0.90}),
        (B, "feature", "finished", {"accuracy": 0.92}),
        (C, "main", "finished", {"accuracy": math.nan}),
        (C, "main", "finished", {"accuracy": 0.60, "loss": 0.1}),
        (D, "main", "finished", {"loss": 0.2}),
        (None, "main", "crashed", {"accuracy": 0.80}),
        (C, "main", "finished", {"accuracy": 0.85}),
    ]
    for i, (commit, branch, state, summary) in enumerate(rows):
        wandb_server.add_run(
            entity,
            project,
            id=f"r{i}",
            state=state,
            commit=commit,
            config={"git_branch": branch},
            summary=summary,
            created_at=EPOCH + timedelta(minutes=i),
        )
    real = build_tracker(TrackerConfig(type="wandb", experiment=f"{entity}/{project}"))
    fake = MemoryTracker(real.search(RunQuery(limit=100, finished_only=False)), flavour="wandb")
    assert len(fake.runs) == len(rows)
    return real, fake


@pytest.mark.parametrize("query", W_QUERIES, ids=[str(i) for i in range(len(W_QUERIES))])
def test_the_wandb_flavour_orders_and_filters_as_wandb_does(
    both_wandb: tuple[Tracker, MemoryTracker], query: RunQuery
) -> None:
    real, fake = both_wandb

    assert [r.id for r in fake.search(query)] == [r.id for r in real.search(query)]
