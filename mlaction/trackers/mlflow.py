"""MLflow tracker over the public `MlflowClient` (no store internals).

Conventions read from runs:
- commit: tag `mlflow.source.git.commit` (set by MLflow for git projects), else `git_commit`, else
  `commit`; `tracker.commit_tag` names another one.
- branch: tag `mlflow.source.git.branch`, else `git_branch`, else `branch`; `tracker.branch_tag`
  names another one.
A query filters on MLflow's own tag first and tries the other spellings only when it finds
nothing, so the common case is one query.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from mlaction.config import TrackerConfig
from mlaction.errors import AliasNotFoundError, PromotionError, RunNotFoundError, TrackerError
from mlaction.runs import Run
from mlaction.trackers.base import ModelVersionRef, RunQuery
from mlaction.trackers.mlflow_errors import (
    MISSING,
    MISSING_ALIAS,
    ReplyTooLargeError,
    first_line,
    is_rest_answer,
    network_error,
    not_mlflow,
    public_url,
    redact,
    reply_too_large,
    translate,
)
from mlaction.trackers.mlflow_filters import filter_clauses, quote_key, quote_value
from mlaction.trackers.mlflow_http import cap_replies, forward_retries
from mlaction.trackers.mlflow_runs import to_run
from mlaction.trackers.mlflow_store import check_store

COMMIT_TAGS = ("mlflow.source.git.commit", "git_commit", "commit")
BRANCH_TAGS = ("mlflow.source.git.branch", "git_branch", "branch")
_T = TypeVar("_T")
_log = logging.getLogger(__name__)


def create(config: TrackerConfig) -> MlflowTracker:
    uri = config.uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise TrackerError(
            "no MLflow tracking URI: `tracker.uri` is not set in the config and "
            "MLFLOW_TRACKING_URI is not set in the environment.",
            hint="Set `tracker.uri: http://your-mlflow:5000` (or `sqlite:///mlflow.db`), or "
            "MLFLOW_TRACKING_URI in the step's `env:`.",
        )
    return MlflowTracker(check_store(uri), config)


class MlflowTracker:
    name = "mlflow"
    filters_start_time = True  # started_after / _before: `attributes.start_time >= / < ...`

    def __init__(self, uri: str, config: TrackerConfig) -> None:
        # Bound every request: per-request timeout and few, short retries (the MLflow client
        # defaults to 120 s and 7 retries with exponential backoff: minutes of waiting).
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(config.timeout)))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.5")
        from mlflow.tracking import MlflowClient

        forward_retries()
        cap_replies(config.max_reply_mb)
        self.uri = uri
        self.config = config
        try:
            self.client = MlflowClient(tracking_uri=uri)
        except ImportError as exc:
            raise _missing_module(uri, exc) from None
        self.ui_url = public_url(uri)
        self._experiment_id: str | None = None
        # (commit tag, branch tag) a windowed query found runs with (`search`)
        self._spellings: dict[RunQuery, tuple[str | None, str | None]] = {}

    def describe(self) -> str:
        return f"MLflow experiment `{self.config.experiment}` at {self._where()}"

    # --- queries -------------------------------------------------------------------------

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            name = self.config.experiment
            experiment = self._call(lambda: self.client.get_experiment_by_name(name))
            if experiment is None:
                raise TrackerError(
                    f"MLflow experiment `{name}` does not exist at {self._where()}.",
                    hint="Check `tracker.experiment` in the config (the name is case-sensitive) "
                    "and that the training step logs to the same tracking URI.",
                )
            if experiment.lifecycle_stage == "deleted":
                raise TrackerError(
                    f"MLflow experiment `{name}` at {self._where()} is deleted.",
                    hint="Restore it (`mlflow experiments restore`) or point the config at "
                    "another experiment.",
                )
            self._experiment_id = str(experiment.experiment_id)
        return self._experiment_id

    def search(self, query: RunQuery) -> list[Run]:
        # The commit and the branch are read from the first tag that has them: one query in
        # the common case (MLflow's own tags); the other spellings only when it finds nothing.
        # An older time window (`started_before`) keeps the spelling a newer window of the
        # same query found runs with, so the windows together answer as the unbounded query.
        family = replace(query, limit=0, started_after=None, started_before=None)
        chosen = self._spellings.get(family) if query.started_before is not None else None
        commit_tags = self._tags(self.config.commit_tag, COMMIT_TAGS, bool(query.commits))
        if len(query.commits) > 1:
            commit_tags = [None]  # _search_commits matches them on the runs it reads
        branch_tags = self._tags(self.config.branch_tag, BRANCH_TAGS, bool(query.branch))
        for branch_tag in branch_tags if chosen is None else [chosen[1]]:
            for commit_tag in commit_tags if chosen is None else [chosen[0]]:
                if len(query.commits) > 1:
                    runs = self._search_commits(query, branch_tag)
                else:
                    runs = self._search(filter_clauses(query, commit_tag, branch_tag), query)
                if runs:
                    if query.started_after is not None:
                        self._spellings.setdefault(family, (commit_tag, branch_tag))
                    return runs
        return []

    @staticmethod
    def _tags(chosen: str | None, defaults: Sequence[str], used: bool) -> list[str | None]:
        if not used:
            return [None]
        return [chosen] if chosen else list(defaults)

    def _search_commits(self, query: RunQuery, branch_tag: str | None) -> list[Run]:
        # MLflow filters have no OR / IN for tags: one query for the newest runs that carry a
        # commit (on the branch when given), matched against the wanted commits here.
        tag = self.config.commit_tag or COMMIT_TAGS[0]
        base = RunQuery(
            limit=max(query.limit, 500),
            branch=query.branch,
            finished_only=query.finished_only,
            extra_filter=query.extra_filter,
        )
        clause = [*filter_clauses(base, None, branch_tag), f"tags.{quote_key(tag)} IS NOT NULL"]
        wanted = set(query.commits)
        runs = [r for r in self._search(clause, base) if r.commit in wanted]
        return runs[: query.limit] if query.order_by is None else runs

    def _search(self, clauses: list[str], query: RunQuery) -> list[Run]:
        if query.order_by is None:
            order = ["attributes.start_time DESC"]
        else:
            direction = "DESC" if query.descending else "ASC"
            order = [
                f"metrics.{quote_key(query.order_by)} {direction}",
                "attributes.start_time DESC",
            ]
        where = " and ".join(clauses)
        limit = max(1, query.limit)
        found = self._pages(where, order, limit)
        _log.debug("search_runs %r order by %r, limit %d: %d runs", where, order, limit, len(found))
        return [self._to_run(r) for r in found]

    def _pages(self, where: str, order: list[str], limit: int) -> list[Any]:
        """`limit` runs in one reply; when a reply is over `tracker.max_reply_mb` (runs with
        thousands of metrics), the rest in pages a tenth of the size, from where it stopped."""
        experiment_id = self.experiment_id
        found: dict[str, Any] = {}  # by run id: a run logged meanwhile shifts MLflow's offsets
        token: str | None = None
        size = limit
        for _ in range(limit + len(_page_sizes(limit))):  # each answered page adds a run
            try:
                page = self._call(
                    partial(
                        self._page,
                        experiment_id,
                        where,
                        order,
                        min(size, limit - len(found)),
                        token,
                    )
                )
            except ReplyTooLargeError:
                if size == 1:
                    raise
                size = max(1, size // 10)
                _log.debug("a reply is over tracker.max_reply_mb: pages of %d runs", size)
                continue
            for run in page:
                found.setdefault(run.info.run_id, run)
            token = page.token
            if not page or not token or len(found) >= limit:
                break
        return list(found.values())[:limit]

    def _page(
        self, experiment_id: str, where: str, order: list[str], size: int, token: str | None
    ) -> Any:
        return self.client.search_runs(
            [experiment_id],
            filter_string=where,
            max_results=size,
            order_by=order,
            page_token=token,
        )

    def get_run(self, run_id: str) -> Run:
        # By primary key: one indexed lookup, whatever the size of the experiment.
        _log.debug("get_run %r", run_id)
        run = self._call(lambda: self.client.get_run(run_id), missing_run=run_id)
        if str(run.info.experiment_id) != self.experiment_id:
            raise RunNotFoundError(
                f"run `{run_id}` is not in MLflow experiment `{self.config.experiment}`.",
                hint="Check the run id in the config and `tracker.experiment`.",
            )
        return self._to_run(run)

    def resolve_alias(self, model: str, alias: str) -> ModelVersionRef:
        try:
            version = self._call(
                lambda: self.client.get_model_version_by_alias(model, alias), missing=MISSING_ALIAS
            )
        except RunNotFoundError as exc:
            raise AliasNotFoundError(
                f"registered model `{model}` has no alias `{alias}` at {self._where()} "
                f"(MLflow: {exc.message})",
                hint=f"Set it (MlflowClient().set_registered_model_alias({model!r}, {alias!r}, "
                "VERSION)) or choose another `baseline.alias` / `baseline.select`.",
            ) from None
        return ModelVersionRef(
            model=model,
            version=str(version.version),
            run_id=version.run_id,
            aliases=tuple(getattr(version, "aliases", []) or []),
            tags=tuple(sorted((version.tags or {}).items())),
        )

    def model_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        query = f"name = {quote_value(model)} and run_id = {quote_value(run_id)}"
        found = self._call(lambda: self.client.search_model_versions(query))
        refs = [
            ModelVersionRef(
                model=model,
                version=str(v.version),
                run_id=v.run_id,
                aliases=tuple(getattr(v, "aliases", []) or []),
                tags=tuple(sorted((v.tags or {}).items())),
            )
            for v in found
        ]
        return sorted(
            refs, key=lambda r: int(r.version) if r.version.isdigit() else 0, reverse=True
        )

    def set_alias(self, model: str, alias: str, version: str) -> None:
        try:
            self._call(lambda: self.client.set_registered_model_alias(model, alias, version))
        except TrackerError as exc:
            raise PromotionError(
                f"could not point alias `{alias}` of registered model `{model}` at version "
                f"{version}: {exc.message}",
                hint="The token needs permission to edit the registered model "
                "(MLflow: MANAGE on the model); check that the version exists.",
            ) from None

    def existing_artifacts(self, run_id: str, paths: Sequence[str]) -> set[str]:
        listings: dict[str, set[str]] = {}
        found: set[str] = set()
        for path in paths:
            clean = path.strip("/")
            parent = clean.rsplit("/", 1)[0] if "/" in clean else ""
            if parent not in listings:
                folder = parent or None
                infos = self._call(partial(self.client.list_artifacts, run_id, folder))
                listings[parent] = {info.path.strip("/") for info in infos}
            if clean in listings[parent]:
                found.add(path)
        return found

    def _to_run(self, raw: Any) -> Run:
        commits = [self.config.commit_tag] if self.config.commit_tag else COMMIT_TAGS
        branches = [self.config.branch_tag] if self.config.branch_tag else BRANCH_TAGS
        return to_run(raw, self.ui_url, commits, branches)

    # --- errors --------------------------------------------------------------------------

    def _where(self) -> str:
        return self.ui_url or redact(self.uri)

    def _call(
        self,
        fn: Callable[[], _T],
        *,
        missing_run: str | None = None,
        missing: frozenset[str] = MISSING,
    ) -> _T:
        from mlflow.exceptions import MlflowException

        timeout = self.config.timeout
        try:
            return fn()
        except MlflowException as exc:
            error = translate(exc, self._where(), timeout, missing_run, missing)
            if not is_rest_answer(exc) and type(error) is TrackerError:
                error = not_mlflow(self.uri, self._where(), timeout) or error
            raise error from None
        except ImportError as exc:  # MLflow opens a database store on first use
            raise _missing_module(self.uri, exc) from None
        except json.JSONDecodeError:
            raise (
                not_mlflow(self.uri, self._where(), timeout)
                or TrackerError(f"MLflow at {self._where()} answered something that is not JSON.")
            ) from None
        except OSError as exc:  # requests' ConnectionError and friends, file stores
            where = self._where()
            raise (
                reply_too_large(exc, where)
                or network_error(exc, where, timeout)
                or TrackerError(
                    f"cannot read the MLflow store at {self._where()}: {first_line(str(exc))}.",
                    hint="Check `tracker.uri` / MLFLOW_TRACKING_URI.",
                )
            ) from None


def _page_sizes(limit: int) -> list[int]:
    """The page sizes `_pages` can step through: the whole answer, then a tenth each time."""
    sizes = [limit]
    while sizes[-1] > 1:
        sizes.append(max(1, sizes[-1] // 10))
    return sizes


def _missing_module(uri: str, exc: ImportError) -> TrackerError:
    """A database URI without its driver (psycopg2, pymysql): MLflow imports it on first use."""
    return TrackerError(
        f"MLflow cannot open {redact(uri)}: the Python module `{exc.name}` is missing.",
        hint="Use the tracking server's http(s):// URL, or install the database driver next to "
        "ml-gate.",
    )
