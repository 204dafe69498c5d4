"""The gate config's schema: pydantic models (extra="forbid"); value parsers in values.py."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlaction.config.template import template_path_problem
from mlaction.config.values import Tolerance as Tolerance
from mlaction.config.values import check_uri, unresolved
from mlaction.config.values import parse_duration as parse_duration
from mlaction.config.values import parse_tolerance as parse_tolerance


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrackerConfig(_Strict):
    type: Literal["mlflow", "wandb"] = "mlflow"
    uri: str | None = None
    experiment: str
    timeout: float = 30.0
    # The largest reply read from the tracker's server, in MiB (mlaction/httpcap.py).
    max_reply_mb: float = 64.0
    commit_tag: str | None = None
    branch_tag: str | None = None
    # The environment's credentials (MLFLOW_TRACKING_TOKEN, WANDB_API_KEY, ...) go only to the
    # environment's server unless the config says they may go to the server `uri` names.
    send_credentials_to_config_uri: bool = False

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or unresolved(info, value):
            return value
        return check_uri(value, info.data.get("type", "mlflow"))

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> float:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("the timeout must be positive")
        return seconds

    @field_validator("max_reply_mb")
    @classmethod
    def _max_reply(cls, value: float) -> float:
        if not 1 <= value <= 4096:
            raise ValueError("max_reply_mb must be between 1 and 4096 (MiB)")
        return value

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the experiment name cannot be empty")
        return value


class CandidateConfig(_Strict):
    select: Literal["commit", "latest", "run_id", "sweep_best"] | None = None
    run_id: str | None = None
    filter: str | None = None
    sweep: str | None = None
    wait: float = 0.0  # how long to wait for the commit's run to appear and finish (0: no wait)
    poll: float = 30.0  # the first interval between two looks; it grows up to 4x (waiting.py)

    @field_validator("wait", "poll", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> float:
        seconds = parse_duration(value)
        if info.field_name == "poll" and seconds < 1:
            raise ValueError("poll at most once a second (`poll: 1s` or more)")
        return seconds

    @model_validator(mode="after")
    def _needs(self) -> CandidateConfig:
        if self.select == "run_id" and not self.run_id:
            raise ValueError("select: run_id needs `run_id`")
        if self.select == "sweep_best" and not self.sweep:
            raise ValueError("select: sweep_best needs `sweep` (the sweep id)")
        return self


class BaselineConfig(_Strict):
    select: Literal["best", "base_commit", "latest", "run_id", "alias", "none"] = "base_commit"
    metric: str | None = None
    branch: str | None = None
    run_id: str | None = None
    model: str | None = None
    alias: str | None = None
    max_ancestors: int = Field(default=20, ge=0, le=200)
    # No baseline found (select is not `none`): warn (default) | fail | pass (explicitly quiet)
    on_missing: Literal["warn", "fail", "pass"] = "warn"

    @model_validator(mode="after")
    def _needs(self) -> BaselineConfig:
        if self.select == "run_id" and not self.run_id:
            raise ValueError("select: run_id needs `run_id`")
        if self.select == "alias" and not (self.model and self.alias):
            raise ValueError("select: alias needs `model` and `alias`")
        return self


class NoiseConfig(_Strict):
    """Judge a drop against the noise σ of the recent runs on the baseline branch.

    Without `k` the tuned rule (mlaction.gate.noise: t quantiles, pass / fail / inconclusive);
    with `k` the fixed band k·σ, capped by max_regression.
    """

    window: int = Field(default=20, ge=3, le=500)
    k: float | None = Field(default=None, gt=0, le=20)


# A metric without `noise:` uses the tuned noise rule when the history has this many finite runs.
AUTO_NOISE_MIN_RUNS = 10


class ComparableConfig(_Strict):
    """What candidate and baseline must share for their scores to be compared."""

    params: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    inputs: bool = False  # evaluation dataset inputs (MLflow dataset digests / W&B artifacts)
    on_mismatch: Literal["fail", "warn"] = "fail"

    @property
    def active(self) -> bool:
        return bool(self.params or self.tags or self.inputs)


class ConfirmConfig(_Strict):
    """An inconclusive comparison asks for more replicate runs (output `more-runs`)."""

    on_inconclusive: Literal["fail", "warn"] = "fail"


class ReplicatesConfig(_Strict):
    """Compare groups of runs (seeds, folds) of the candidate and baseline commits."""

    min: int = Field(default=3, ge=2, le=50)


class MetricRule(_Strict):
    goal: Literal["maximize", "minimize"] = "maximize"
    min: float | None = None
    max: float | None = None
    max_regression: Tolerance | None = None
    min_improvement: Tolerance | None = None
    # None: the tuned noise rule when the history allows it; false: never; true / {...}: always
    noise: NoiseConfig | Literal[False] | None = None
    replicates: ReplicatesConfig | None = None
    test: Literal["bootstrap", "none"] = "bootstrap"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)

    @property
    def compares(self) -> bool:
        """Whether this metric has a regression check against a reference."""
        return self.max_regression is not None or bool(self.noise) or bool(self.replicates)

    @field_validator("noise", mode="before")
    @classmethod
    def _noise(cls, value: object) -> object:
        return NoiseConfig() if value is True else value

    @field_validator("max_regression", "min_improvement", mode="before")
    @classmethod
    def _tolerance(cls, value: object) -> Tolerance | None:
        if value is None or isinstance(value, Tolerance):
            return value
        return parse_tolerance(value)

    @model_validator(mode="after")
    def _bounds(self) -> MetricRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self


class RunRules(_Strict):
    max_duration: float | None = None
    max_age: float | None = None
    required_params: list[str] = Field(default_factory=list)
    required_tags: list[str] = Field(default_factory=list)
    required_artifacts: list[str] = Field(default_factory=list)

    @field_validator("max_duration", "max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)


class CommentConfig(_Strict):
    mode: Literal["always", "on_failure", "never"] = "always"
    title: str | None = None
    template: str | None = None  # relative to the config's directory, inside the repository
    history: int = Field(default=20, ge=0, le=500)
    id: str | None = None

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or unresolved(info, value):
            return value
        problem = template_path_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class RegistryRules(_Strict):
    """Checks on the model registry (MLflow registered models / W&B model artifacts)."""

    model: str
    require_version: bool = True
    version_tags: list[str] = Field(default_factory=list)
    require_alias: str | None = None


PromoteEvent = Literal["push", "workflow_dispatch", "schedule", "release", "workflow_run"]


class PromoteConfig(_Strict):
    """On a passing gate for these events and branches (or tags: a tag push, a release), move
    `alias` to the candidate's version."""

    model: str
    alias: str
    on: list[PromoteEvent] = Field(default_factory=lambda: list[PromoteEvent](["push"]))
    branches: list[str] = Field(default_factory=lambda: ["main"])
    tags: list[str] = Field(default_factory=list)  # glob patterns: ["v*"]

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true.
        if isinstance(data, dict) and True in data:
            data = dict(data)
            data["on"] = data.pop(True)
        return data

    @field_validator("on", "branches", "tags", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _release_needs_tags(self) -> PromoteConfig:
        # A release (or a tag push) has no branch: only `tags` can allow it.
        if "release" in self.on and not self.tags:
            raise ValueError(
                "`on` lists `release`, but a release has a tag, not a branch: list the tags "
                'that may promote in `promote.tags` (e.g. `tags: ["v*"]`)'
            )
        return self

    @field_validator("alias")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        # W&B and MLflow both manage `latest` and the version names themselves
        if re.fullmatch(r"\s*(latest|v\d+)\s*", value):
            raise ValueError(f"`{value}` is managed by the tracker itself: pick another alias")
        return value


class OverrideConfig(_Strict):
    """A PR label that turns a failed gate into a warning for that PR (null: no override)."""

    label: str | None = "ml-gate: accept-regression"


class GateConfig(_Strict):
    tracker: TrackerConfig
    candidate: CandidateConfig = Field(default_factory=CandidateConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    metrics: dict[str, MetricRule] = Field(default_factory=dict)
    comparable: ComparableConfig = Field(default_factory=ComparableConfig)
    confirm: ConfirmConfig = Field(default_factory=ConfirmConfig)
    run: RunRules = Field(default_factory=RunRules)
    comment: CommentConfig = Field(default_factory=CommentConfig)
    on_failure: Literal["fail", "warn"] = "fail"
    registry: RegistryRules | None = None
    promote: PromoteConfig | None = None
    override: OverrideConfig = Field(default_factory=OverrideConfig)

    @model_validator(mode="after")
    def _consistent(self) -> GateConfig:
        if not self.metrics and not _has_run_rules(self.run) and self.registry is None:
            raise ValueError("the gate checks nothing: add at least one entry under `metrics`")
        return self

    @property
    def history_limit(self) -> int:
        """How many runs of history the comment and the noise bands need."""
        windows = [
            r.noise.window if r.noise else NoiseConfig().window
            for r in self.metrics.values()
            if r.noise is not False and (r.noise or r.max_regression or r.min_improvement)
        ]
        return max([self.comment.history, *windows])

    @property
    def uses_replicates(self) -> bool:
        return any(r.replicates for r in self.metrics.values())

    @property
    def ranking_metric(self) -> str | None:
        """The metric that ranks runs for `best`: baseline.metric, else the first metric."""
        if self.baseline.metric:
            return self.baseline.metric
        return next(iter(self.metrics), None)

    def goal_of(self, metric: str) -> str:
        rule = self.metrics.get(metric)
        return rule.goal if rule else "maximize"


def _has_run_rules(rules: RunRules) -> bool:
    return bool(
        rules.max_duration
        or rules.max_age
        or rules.required_params
        or rules.required_tags
        or rules.required_artifacts
    )
