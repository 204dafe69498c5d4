"""One way to log runs for the gate scenarios, whatever the tracker.

A `Backend` logs runs the way a training job would for its tracker, and writes the `tracker:`
block of a gate config that points at them. Runs are created in call order, one minute apart
(both loggers space start times in logging order), so "latest" is the last one logged.

- `MlflowBackend`: real runs on the real `mlflow server` fixture, through `RunLogger`
  (commit tag `mlflow.source.git.commit`, branch tag `mlflow.source.git.branch`, params,
  tags `{name: "true"}`, status FINISHED / FAILED / RUNNING).
- `WandbBackend`: runs in the loopback fake W&B server, read back by the REAL wandb client.
  Where the W&B tracker reads them: the commit is the run's own git commit, the branch is the
  config key `git_branch`, params are the rest of the run config, metrics are the summary
  (a dotted name is a nested summary value: `val.acc` is `{"val": {"acc": ...}}`, as the
  tracker documents), tags are the run's tag set, state finished / crashed / running.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fakes.wandb_server import FakeWandbServer
from mlflow_helpers import RunLogger

State = Literal["finished", "failed", "running"]
MetricValue = float | str  # a str only for W&B's special floats ("NaN", "Infinity")


class Backend(ABC):
    """A tracker the gate scenarios run against."""

    name: str
    #: How a NaN metric can reach the gate from this tracker.
    nan_forms: tuple[MetricValue, ...] = (math.nan,)

    @abstractmethod
    def log(
        self,
        commit: str | None,
        *,
        branch: str | None = "main",
        metrics: Mapping[str, MetricValue] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        state: State = "finished",
    ) -> str:
        """Log one run (after every run logged before it) and return its id."""

    @abstractmethod
    def config_header(self) -> str:
        """The `tracker:` block of a gate config reading this backend's runs."""

    @abstractmethod
    def set_alias(self, model: str, alias: str, run_id: str) -> tuple[str, str]:
        """Register a model version logged by `run_id` under `alias`: (model name, version)."""


class MlflowBackend(Backend):
    name = "mlflow"
    _STATUS: Mapping[State, str] = {
        "finished": "FINISHED",
        "failed": "FAILED",
        "running": "RUNNING",
    }

    def __init__(self, runs: RunLogger) -> None:
        self.runs = runs

    def log(
        self,
        commit: str | None,
        *,
        branch: str | None = "main",
        metrics: Mapping[str, MetricValue] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        state: State = "finished",
    ) -> str:
        return self.runs.log(
            commit,
            branch=branch,
            metrics={name: float(value) for name, value in (metrics or {}).items()},
            params=params,
            tags=dict.fromkeys(tags, "true"),
            status=self._STATUS[state],
        )

    def config_header(self) -> str:
        return (
            f"tracker:\n  type: mlflow\n  uri: {self.runs.uri}\n"
            f"  experiment: {self.runs.experiment}\n  timeout: 10s\n"
        )

    def set_alias(self, model: str, alias: str, run_id: str) -> tuple[str, str]:
        name = f"{model}-{self.runs.experiment}"  # the registry is shared by the whole session
        client = self.runs.client
        client.create_registered_model(name)
        version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(name, alias, version.version)
        return name, str(version.version)


class WandbBackend(Backend):
    name = "wandb"
    nan_forms = (math.nan, "NaN")  # W&B's JSON summary holds a bare NaN or the string "NaN"
    _STATE: Mapping[State, str] = {
        "finished": "finished",
        "failed": "crashed",
        "running": "running",
    }

    def __init__(
        self, server: FakeWandbServer, entity: str = "acme", project: str = "iris"
    ) -> None:
        self.server, self.entity, self.project = server, entity, project
        server.add_project(entity, project)

    def log(
        self,
        commit: str | None,
        *,
        branch: str | None = "main",
        metrics: Mapping[str, MetricValue] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Sequence[str] = (),
        state: State = "finished",
        summary: Mapping[str, Any] | None = None,
        sweep: str | None = None,
    ) -> str:
        """`summary` adds raw summary values (e.g. what `define_metric` writes)."""
        config: dict[str, Any] = dict(params or {})
        if branch:
            config["git_branch"] = branch
        run_id = f"run{len(self.server.runs[(self.entity, self.project)])}"
        self.server.add_run(
            self.entity,
            self.project,
            id=run_id,
            state=self._STATE[state],
            commit=commit,
            config=config,
            summary={**nest(metrics or {}), **(summary or {})},
            tags=list(tags),
            sweep=sweep,
        )
        return run_id

    def config_header(self) -> str:
        return (
            f"tracker:\n  type: wandb\n  uri: {self.server.url}\n"
            f"  experiment: {self.entity}/{self.project}\n  timeout: 10s\n"
        )

    def set_alias(self, model: str, alias: str, run_id: str) -> tuple[str, str]:
        artifact = self.server.add_artifact(
            self.entity, self.project, model, aliases=[alias], logged_by=run_id
        )
        return model, f"v{artifact.version}"


def nest(metrics: Mapping[str, MetricValue]) -> dict[str, Any]:
    """Dotted metric names as nested summary values: {"a.b": 1} -> {"a": {"b": 1}}."""
    summary: dict[str, Any] = {}
    for name, value in metrics.items():
        *parents, leaf = name.split(".")
        node = summary
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return summary
