"""The one shape of a run that every tracker returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FINISHED = "finished"
RUNNING = "running"
FAILED = "failed"
KILLED = "killed"


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used: MLflow `run.inputs.dataset_inputs` (context from the input tag
    `mlflow.data.context`), W&B artifacts used by the run (context None). Untrusted text."""

    name: str
    digest: str
    context: str | None = None


@dataclass(frozen=True)
class Run:
    """A tracker run, normalised. Every text field is untrusted (anyone can log anything)."""

    id: str
    name: str = ""
    url: str | None = None
    status: str = FINISHED
    start: datetime | None = None
    end: datetime | None = None
    commit: str | None = None
    branch: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    duration_seconds: float | None = None
    inputs: tuple[DatasetInput, ...] | None = None  # None: the tracker did not report them

    @property
    def duration(self) -> timedelta | None:
        """Wall time of the run: the tracker's own runtime, else end - start."""
        if self.duration_seconds is not None:
            return timedelta(seconds=self.duration_seconds)
        if self.start is not None and self.end is not None:
            return self.end - self.start
        return None

    @property
    def label(self) -> str:
        """The run's name for messages, which quote it in backticks: a backtick in the
        (untrusted) name would end that quote early, so it is shown as `'`."""
        return (self.name or self.id).replace("`", "'")

    def metric(self, name: str) -> float | None:
        """The metric's value, None when absent (NaN stays NaN)."""
        value = self.metrics.get(name)
        return None if value is None else float(value)


def finite(value: float | None) -> bool:
    """A number that can be compared: not None, not NaN, not infinite."""
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class ModelVersionRef:
    """A model version (MLflow) or model artifact version (W&B) and the run that logged it."""

    model: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RegistryInfo:
    """What the registry says about the candidate (for `registry:` checks)."""

    model: str
    versions: tuple[ModelVersionRef, ...] = ()
    alias: str | None = None
    alias_version: str | None = None


@dataclass(frozen=True)
class ModelVersionInfo:
    """The registry entry behind an alias baseline (model version / model artifact)."""

    model: str
    version: str
    alias: str | None = None


@dataclass(frozen=True)
class Selection:
    """What select.py found: the runs the gate judges. Pure data."""

    candidate: Run
    baseline: Run | None
    baseline_reason: str
    history: tuple[Run, ...] = ()
    artifacts: frozenset[str] | None = None
    baseline_model: ModelVersionInfo | None = None
    notes: tuple[str, ...] = ()
    registry: RegistryInfo | None = None
    candidate_group: tuple[Run, ...] = ()  # finished runs of the candidate's commit
    baseline_group: tuple[Run, ...] = ()  # finished runs of the baseline's commit (replicates)
