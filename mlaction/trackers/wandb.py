"""Weights & Biases tracker, over the public `wandb.Api` (imported only when W&B is used).

Conventions the gate reads (docs/wandb.md tells users the same):

- `tracker.experiment` is `entity/project`; the base URL is `tracker.uri`, else `WANDB_BASE_URL`;
  the key is `WANDB_API_KEY` and never appears in a message.
- commit: the run's own git commit (W&B records it when the run starts in a git checkout),
  else the config key `git_commit` (or `tracker.commit_tag`). branch: the config key
  `git_branch` (or `tracker.branch_tag`).
- Metric names: a dot walks into nested summary values. `accuracy.max` is the `max` of a
  summary `{"accuracy": {"max": 0.78}}`, which is what `define_metric("accuracy",
  summary="max")` writes. Server-side it is `summary_metrics.accuracy.max` (filter and order);
  in `Run.metrics` nested summaries are flattened the same way. Summary keys starting with `_`
  (W&B's own) and media objects (dicts with a `_type`) are not metrics.
- A run's tags are a set: each tag becomes `{tag: "true"}`. Params are the run config, keys
  starting with `_` dropped, values stringified (JSON for lists and dicts).
- `candidate.filter` is a JSON object in W&B's Mongo-style run filter language, combined
  with the gate's own conditions by `$and`.
- Models are artifacts: `model` is an artifact collection name in this project (any type,
  usually `model`), a version is W&B's `vN` (`set_alias` also takes a bare `N`), a version's
  tags are its metadata (values stringified like params) and its run is the run that logged
  it. `set_alias` adds the alias to `model:vN`; W&B keeps an alias on one version of a
  collection, so it leaves the version that had it. That is the only write ml-gate makes.
"""

from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from mlaction.config import TrackerConfig
from mlaction.errors import (
    AliasNotFoundError,
    ConfigError,
    MlGateError,
    PromotionError,
    RunNotFoundError,
    TrackerError,
)
from mlaction.runs import FAILED, FINISHED, KILLED, RUNNING, DatasetInput, Run, finite
from mlaction.trackers.base import ModelVersionRef, RunQuery

DEFAULT_BASE_URL = "https://api.wandb.ai"
_KEY_HINT = (
    "Set WANDB_API_KEY in the step's env, e.g. `env: WANDB_API_KEY: ${{ secrets.WANDB_API_KEY }}` "
    "(a key from https://wandb.ai/authorize, or from your W&B server's user settings)."
)
_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_STATES = {"finished": FINISHED, "running": RUNNING, "pending": RUNNING, "preempting": RUNNING,
           "failed": FAILED, "crashed": FAILED, "killed": KILLED, "preempted": KILLED}  # fmt: skip
_SPECIAL_FLOATS = {"nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"}
_WANDB_DIR: list[str] = []
_ALIAS_SEPARATORS = frozenset("/:")


def create(config: TrackerConfig) -> WandbTracker:
    entity, _, project = config.experiment.strip().partition("/")
    if not entity or not project or "/" in project:
        raise ConfigError(
            f"tracker.experiment must be `entity/project` for W&B, got `{config.experiment}`.",
            hint="Use the two path parts of the project URL, e.g. `my-team/iris-classifier`.",
        )
    key = os.environ.get("WANDB_API_KEY", "").strip()
    if not key:
        raise TrackerError(
            "WANDB_API_KEY is not set: ml-gate cannot read W&B runs.", hint=_KEY_HINT
        )
    base_url = (config.uri or os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    return WandbTracker(config, entity, project, base_url, key)


class WandbTracker:
    """Runs of one W&B project. The `wandb.Api` is built on first use."""

    name = "wandb"

    def __init__(
        self, config: TrackerConfig, entity: str, project: str, base_url: str, key: str
    ) -> None:
        self.entity, self.project, self.base_url = entity, project, base_url
        self.path = f"{entity}/{project}"
        self.timeout = max(1, int(config.timeout))
        self.commit_key = config.commit_tag or "git_commit"
        self.branch_key = config.branch_tag or "git_branch"
        self._key = key
        self._api_obj: Any = None

    def __repr__(self) -> str:
        return f"WandbTracker({self.path!r}, {self.base_url!r})"

    def describe(self) -> str:
        return f"W&B project `{self.path}` at {self.base_url}"

    # -- Tracker protocol ------------------------------------------------------------------------
    def search(self, query: RunQuery) -> list[Run]:
        filters = build_filters(query, commit_key=self.commit_key, branch_key=self.branch_key)
        if query.order_by is None:
            order = "-created_at"
        else:
            order = f"{'-' if query.descending else '+'}summary_metrics.{query.order_by}"
        return self._runs(filters, order, query.limit, "searching runs")

    def get_run(self, run_id: str) -> Run:
        return self._run(self._fetch_run(run_id))

    def resolve_alias(self, model: str, alias: str) -> ModelVersionRef:
        missing = AliasNotFoundError(
            f"no `{model}` artifact with alias `{alias}` in {self.describe()}.",
            hint=f"Log the model with `run.log_artifact(artifact, aliases=['{alias}'])`, add "
            "the alias in the W&B UI, or fix baseline.model / baseline.alias.",
        )
        name = f"{self.path}/{model}:{alias}"
        doing = f"resolving `{model}:{alias}`"
        artifact = self._call(doing, lambda: self._api.artifact(name), missing=missing)
        gone = _Missing()  # the run that logged it was deleted: no run id
        doing = f"finding the run that logged `{model}:{alias}`"
        creator = self._call(doing, artifact.logged_by, missing=gone)
        run_id = None if creator is None or creator is gone else str(creator.id)
        return _version_ref(model, artifact, run_id)

    def model_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        """The versions of artifact collection `model` (any type) that run `run_id` logged in
        this project, newest first: the run, then its logged artifacts (100 a page)."""
        run = self._fetch_run(run_id)
        doing = f"listing the artifacts logged by run `{run_id}`"
        logged = self._call(doing, lambda: [a for a in run.logged_artifacts() if a is not None])
        mine = [
            a
            for a in logged
            if str(a.name).rsplit(":", 1)[0] == model
            and (a.entity, a.project) == (self.entity, self.project)
        ]
        refs = [_version_ref(model, a, run_id) for a in mine]
        return sorted(refs, key=lambda ref: _version_index(ref.version) or 0, reverse=True)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        """Add `alias` to `model:vN`; W&B moves it off any other version of the collection.

        `version` is what `model_versions` returns (`v3`; a bare `3` means the same). Through the
        public API: `api.artifact(...)`, then `artifact.aliases = [...]` and `artifact.save()`,
        which for a logged artifact sends the `AddAliases` and `UpdateArtifact` mutations."""
        index = _version_index(version)
        where = f"`{self.path}/{model}`"
        if index is None:
            raise PromotionError(
                f"cannot point alias `{alias}` of W&B artifact {where} at `{version}`: "
                "not a version.",
                hint="Give the version as W&B names it: `v0`, `v1`, … (the artifact's Versions "
                "tab).",
            )
        if _ALIAS_SEPARATORS.intersection(alias) or not alias.strip():
            raise PromotionError(
                f"`{alias}` cannot be a W&B artifact alias (no `/` or `:`, not empty).",
                hint="Fix promote.alias.",
            )
        name = f"{self.path}/{model}:v{index}"
        what = f"alias `{alias}` of W&B artifact {where} to v{index}"
        try:
            api = self._api
        except TrackerError as exc:
            raise PromotionError(f"moving {what} failed: {exc.message}", hint=exc.hint) from None
        try:
            artifact = api.artifact(name)
        except Exception as exc:
            if _api_failure(exc) is None:  # answered: no such version
                raise PromotionError(
                    f"no version v{index} of W&B artifact {where}: cannot point alias "
                    f"`{alias}` at it.",
                    hint="Check promote.model (the artifact name) and that the candidate run "
                    "logged that version with `run.log_artifact(...)` in this project.",
                ) from None
            raise self._promotion_error(exc, what) from None
        if alias in artifact.aliases:
            return  # already there: nothing to move
        try:
            artifact.aliases = [*artifact.aliases, alias]
            artifact.save()
        except Exception as exc:
            raise self._promotion_error(exc, what) from None

    def _promotion_error(self, exc: BaseException, what: str) -> PromotionError:
        failure = _api_failure(exc)
        status = _status(failure)
        said = str(getattr(getattr(failure, "response", None), "message", "") or "").lower()
        if status in (401, 403) or "permission" in said or "not authorized" in said:
            detail = f" (HTTP {status})" if status in (401, 403) else ""
            return PromotionError(
                f"W&B refused{detail} to move {what} at {self.base_url}.",
                hint="WANDB_API_KEY must be valid for this server and belong to a user or "
                f"service account that can write to project `{self.path}` (a member of the "
                f"entity, not a viewer). {_KEY_HINT}",
            )
        error = self._error(exc, f"moving {what}")
        return PromotionError(error.message, hint=error.hint)

    def existing_artifacts(self, run_id: str, paths: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return set()
        run = self._fetch_run(run_id)
        doing = f"listing the files of run `{run_id}`"
        found = set(wanted) & {f.name for f in self._call(doing, lambda: list(run.files(wanted)))}
        if len(found) < len(wanted):
            doing = f"listing the artifacts logged by run `{run_id}`"
            logged = self._call(doing, lambda: [a.name for a in run.logged_artifacts()])
            found |= set(wanted) & {name.rsplit(":", 1)[0] for name in logged}
        return found

    def sweep_best(self, sweep_id: str) -> Run:
        """The best finished run of a sweep, by the metric and goal of the sweep's config."""
        missing = TrackerError(
            f"no sweep `{sweep_id}` in {self.describe()}.",
            hint="Use the sweep id from the sweep URL (…/sweeps/<id>) in candidate.sweep.",
        )
        path = f"{self.path}/{sweep_id}"
        doing = f"reading sweep `{sweep_id}`"
        config = self._call(doing, lambda: self._api.sweep(path).config, missing=missing)
        metric = config.get("metric") or {}
        name, goal = metric.get("name"), metric.get("goal", "minimize")
        if not name:
            raise TrackerError(
                f"W&B sweep `{sweep_id}` has no `metric` in its config.",
                hint="Add `metric: {name: ..., goal: maximize}` to the sweep configuration.",
            )
        has_metric = {f"summary_metrics.{name}": {"$exists": True}}
        filters = {"$and": [{"sweep": sweep_id}, {"state": "finished"}, has_metric]}
        order = f"{'-' if goal == 'maximize' else '+'}summary_metrics.{name}"
        # A few runs, not one: a diverged run ("NaN") can sort first; the best is the first number.
        doing = f"finding the best run of sweep `{sweep_id}`"
        runs = [r for r in self._runs(filters, order, 10, doing) if finite(r.metric(name))]
        if not runs:
            raise TrackerError(
                f"W&B sweep `{sweep_id}` has no finished run with `{name}`.",
                hint="Wait for the sweep's runs to finish, or check the sweep id.",
            )
        return runs[0]

    # -- SDK calls ---------------------------------------------------------------------------------
    @property
    def _api(self) -> Any:
        if self._api_obj is None:
            import wandb

            _prepare_wandb(float(self.timeout))
            overrides = {"entity": self.entity, "project": self.project, "base_url": self.base_url}
            self._api_obj = self._call(
                "connecting",
                lambda: wandb.Api(overrides=overrides, timeout=self.timeout, api_key=self._key),
            )
        return self._api_obj

    def _runs(self, filters: Mapping[str, Any], order: str, limit: int, doing: str) -> list[Run]:
        """ONE `Runs` page of `limit` runs: islice never asks for a second page."""

        def fetch() -> list[Any]:
            runs = self._api.runs(
                self.path, filters=dict(filters), order=order, per_page=max(1, limit), lazy=False
            )
            return list(itertools.islice(runs, max(0, limit)))

        missing = TrackerError(
            f"W&B project `{self.path}` was not found at {self.base_url}.",
            hint="Check tracker.experiment (`entity/project`, as in the project URL) and that "
            "the WANDB_API_KEY user can see the project.",
        )
        return [self._run(run) for run in self._call(doing, fetch, missing=missing)]

    def _fetch_run(self, run_id: str) -> Any:
        missing = RunNotFoundError(
            f"no run `{run_id}` in {self.describe()}.",
            hint="Use the run id from the run URL (…/runs/<id>), not its display name.",
        )
        path = f"{self.path}/{run_id}"
        return self._call(f"reading run `{run_id}`", lambda: self._api.run(path), missing=missing)

    def _call(
        self, doing: str, fn: Callable[[], Any], *, missing: MlGateError | _Missing | None = None
    ) -> Any:
        """Run an SDK call; a failed request -> TrackerError, a local "not found" -> `missing`."""
        try:
            return fn()
        except MlGateError:
            raise
        except Exception as exc:
            if missing is not None and _api_failure(exc) is None:
                if isinstance(missing, _Missing):
                    return missing
                raise missing from None
            raise self._error(exc, doing) from None

    def _error(self, exc: BaseException, doing: str) -> TrackerError:
        failure = _api_failure(exc)
        status = _status(failure)
        response = getattr(failure, "response", None)
        reason = _scrub(str(getattr(response, "message", "") or exc), self._key)
        if status in (401, 403):
            return TrackerError(
                f"W&B rejected the API key (HTTP {status}) at {self.base_url} while {doing}.",
                hint=f"Check WANDB_API_KEY: it must be a valid key for this server. {_KEY_HINT}",
            )
        if failure is not None and response is None and "did not respond in time" in reason:
            reason = f"no answer within {self.timeout}s"
        reason = reason.splitlines()[0] if reason else "no details"
        if failure is None or status in (None, 408, 502, 503, 504):
            return TrackerError(
                f"Could not reach W&B at {self.base_url} while {doing}: {reason}",
                hint="Check tracker.uri / WANDB_BASE_URL and that the server is up "
                f"(each request times out after {self.timeout}s: tracker.timeout).",
            )
        return TrackerError(f"W&B request failed (HTTP {status}) while {doing}: {reason}")

    # -- mapping ----------------------------------------------------------------------------------
    def _run(self, run: Any) -> Run:
        config = {k: _unwrap(v) for k, v in (run.config or {}).items()}
        summary = dict(run.summary_metrics or {})
        start = _parse_time(getattr(run, "created_at", None))
        runtime = _runtime(summary)
        end = _parse_time(getattr(run, "heartbeat_at", None))
        if end is None and start is not None and runtime is not None:
            end = start + timedelta(seconds=runtime)
        commit = getattr(run, "commit", None) or config.get(self.commit_key)
        branch = config.get(self.branch_key)
        return Run(
            id=str(run.id),
            name=str(run.name or ""),
            url=run.url,
            status=_STATES.get(str(run.state).lower(), str(run.state).lower()),
            start=start,
            end=end,
            commit=str(commit) if commit else None,
            branch=str(branch) if branch is not None else None,
            metrics=dict(_flatten(summary)),
            params={k: _param(v) for k, v in config.items() if not k.startswith("_")},
            tags={str(tag): "true" for tag in run.tags or ()},
            duration_seconds=runtime,
        )

    # -- comparability (`comparable.inputs`) --------------------------------------------------
    def used_datasets(self, run_id: str) -> tuple[DatasetInput, ...]:
        """The artifacts the run used (`Run.used_artifacts()`: name without the `:vN` alias,
        content digest), read only when `comparable.inputs` asks for them (one request)."""
        run = self._fetch_run(run_id)
        doing = f"listing the artifacts used by run `{run_id}`"
        used = self._call(doing, lambda: list(run.used_artifacts()))
        return tuple(DatasetInput(str(a.name).rsplit(":", 1)[0], str(a.digest), None) for a in used)


class _Missing:
    """Marks an optional lookup that found nothing."""


def _version_ref(model: str, artifact: Any, run_id: str | None) -> ModelVersionRef:
    """A logged artifact version as a registry entry: version `vN`, metadata as tags."""
    metadata = artifact.metadata or {}
    return ModelVersionRef(
        model=model,
        version=str(artifact.version),
        run_id=run_id,
        aliases=tuple(artifact.aliases),
        tags=tuple(sorted((str(k), _param(v)) for k, v in metadata.items())),
    )


def _version_index(version: str) -> int | None:
    """`v3` (W&B's name) or `3` -> 3; anything else (an alias, `latest`) -> None."""
    digits = version.strip().removeprefix("v")
    return int(digits) if digits.isdigit() and digits.isascii() else None


def build_filters(query: RunQuery, *, commit_key: str, branch_key: str) -> dict[str, Any]:
    """The W&B (Mongo-style) run filter for a query; `{}` when it has no condition."""
    clauses: list[dict[str, Any]] = []
    if query.commits:
        commits = list(query.commits)
        clauses.append({"$or": [{"commit": {"$in": commits}},
                                {f"config.{commit_key}": {"$in": commits}}]})  # fmt: skip
    if query.branch:
        clauses.append({f"config.{branch_key}": query.branch})
    if query.finished_only:
        clauses.append({"state": "finished"})
    if query.order_by:  # a run without the metric is never "best" (NULLs sort first ascending)
        clauses.append({f"summary_metrics.{query.order_by}": {"$exists": True}})
    if query.bound:
        bound = query.bound
        clauses.append({f"summary_metrics.{bound.metric}": {_OPS[bound.op]: bound.value}})
    if query.extra_filter:
        clauses.append(_extra_filter(query.extra_filter))
    return {"$and": clauses} if clauses else {}


def _extra_filter(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        value = exc
    if not isinstance(value, dict):
        raise ConfigError(
            f"candidate.filter must be a JSON object for W&B, got `{text}`.",
            hint='Write a W&B run filter, e.g. `{"config.dataset": "iris-v2"}` or '
            '`{"tags": {"$in": ["nightly"]}}`.',
        )
    return value


def _prepare_wandb(timeout: float) -> None:
    """No telemetry, a private scratch dir, bounded retries: before the first `wandb.Api`."""
    import wandb

    os.environ["WANDB_ERROR_REPORTING"] = "false"  # wandb-core runs with --no-observability
    os.environ["WANDB_SILENT"] = "true"
    if not _WANDB_DIR:
        _WANDB_DIR.append(tempfile.mkdtemp(prefix="ml-gate-wandb-"))
        atexit.register(shutil.rmtree, _WANDB_DIR[0], True)
    os.environ["WANDB_DIR"] = _WANDB_DIR[0]  # public Run objects create directories here
    # wandb-core retries failed GraphQL requests: bound them so a dead server fails in seconds.
    bounded = wandb.Settings(
        x_graphql_retry_max=2,
        x_graphql_retry_wait_min_seconds=0.5,
        x_graphql_retry_wait_max_seconds=2.0,
        x_graphql_timeout_seconds=timeout,
    )
    wandb.setup(bounded)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        nested = getattr(item, "exc", None)
        todo += [item.__cause__, item.__context__]
        todo += [nested] if isinstance(nested, BaseException) else []


def _api_failure(exc: BaseException) -> BaseException | None:
    """The wandb-core request failure behind an SDK exception (None: a local, logical error)."""
    return next((e for e in _chain(exc) if type(e).__name__ == "WandbApiFailedError"), None)


def _status(failure: BaseException | None) -> int | None:
    status = getattr(getattr(failure, "response", None), "http_status", None)
    return status if isinstance(status, int) and status > 0 else None


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***").strip() if key else text.strip()


def _unwrap(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and set(value) <= {"value", "desc"} else value


def _param(value: Any) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _SPECIAL_FLOATS:
        return float(value.strip().lower().replace("infinity", "inf"))
    return None


def _flatten(summary: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in summary.items():
        if not prefix and str(key).startswith("_"):
            continue
        if isinstance(value, Mapping):
            if "_type" not in value:  # media, histograms, tables: not metrics
                yield from _flatten(value, f"{prefix}{key}.")
        elif (number := _number(value)) is not None:
            yield f"{prefix}{key}", number


def _runtime(summary: Mapping[str, Any]) -> float | None:
    internal = summary.get("_wandb")
    for value in (internal.get("runtime") if isinstance(internal, Mapping) else None,
                  summary.get("_runtime")):  # fmt: skip
        number = _number(value)
        if number is not None and math.isfinite(number):
            return number
    return None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
