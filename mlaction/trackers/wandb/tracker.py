"""The W&B tracker over the public `wandb.Api` (imported only when W&B is used).

docs/wandb.md tells users the conventions: settings.py (key, base URL, project), query.py (what
is searched server-side), mapping.py (runs), artifacts.py (model versions and promotion).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from mlaction.config import TrackerConfig
from mlaction.errors import MlGateError, RunNotFoundError, TrackerError
from mlaction.runs import DatasetInput, ModelVersionRef, Run, finite
from mlaction.trackers.base import RunQuery
from mlaction.trackers.wandb import artifacts, registry, settings
from mlaction.trackers.wandb.errors import Classifier, api_failure
from mlaction.trackers.wandb.mapping import to_run
from mlaction.trackers.wandb.query import Search, merge, plan

log = logging.getLogger(__name__)


def create(config: TrackerConfig) -> WandbTracker:
    if "max_reply_mb" in config.model_fields_set:
        # wandb-core, the client's own service process, reads every reply (docs/scale.md).
        log.warning("tracker.max_reply_mb has no effect on W&B: the wandb client reads replies")
    entity, project = settings.entity_project(config)
    base_url = settings.base_url(config)
    return WandbTracker(config, entity, project, base_url, settings.api_key(base_url))


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
        self.classifier = Classifier(base_url, self.path, key, self.timeout)

    def __repr__(self) -> str:
        return f"WandbTracker({self.path!r}, {self.base_url!r})"

    def describe(self) -> str:
        return f"W&B project `{self.path}` at {self.base_url}"

    # -- Tracker protocol ------------------------------------------------------------------------
    def search(self, query: RunQuery) -> list[Run]:
        searches = plan(query, commit_key=self.commit_key, branch_key=self.branch_key)
        answers = [self._runs(s, "searching runs", query.commits) for s in searches]
        full = any(len(answer) >= s.limit for answer, s in zip(answers, searches, strict=True))
        return merge(query, answers, window_full=full)

    def get_run(self, run_id: str) -> Run:
        return to_run(self.fetch_run(run_id), self.commit_key, self.branch_key)

    # `model`: a project artifact name (artifacts.py) or a Registry collection (registry.py)
    def resolve_alias(self, model: str, alias: str) -> ModelVersionRef:
        if path := registry.parse_model(model):
            return registry.resolve_alias(self, model, path, alias)
        return artifacts.resolve_alias(self, model, alias)

    def model_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        if path := registry.parse_model(model):
            return registry.model_versions(self, model, path, run_id)
        return artifacts.model_versions(self, model, run_id)

    def promotion_versions(self, model: str, run_id: str) -> list[ModelVersionRef]:
        """What `promote:` may point the alias at (a Registry collection links new ones)."""
        if path := registry.parse_model(model):
            return registry.promotion_versions(self, model, path, run_id)
        return artifacts.model_versions(self, model, run_id)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        if path := registry.parse_model(model):
            registry.set_alias(self, path, alias, version)
        else:
            artifacts.set_alias(self, model, alias, version)

    def existing_artifacts(self, run_id: str, paths: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return set()
        run = self.fetch_run(run_id)
        doing = f"listing the files of run `{run_id}`"
        found = set(wanted) & {f.name for f in self.call(doing, lambda: list(run.files(wanted)))}
        if len(found) < len(wanted):  # a logged artifact counts once committed (artifacts.py)
            logged = {str(a.name).rsplit(":", 1)[0] for a in artifacts.logged(self, run)}
            found |= set(wanted) & logged
        return found

    def sweep_best(self, sweep_id: str) -> Run:
        """The best finished run of a sweep, by the metric and goal of the sweep's config."""
        missing = TrackerError(
            f"no sweep `{sweep_id}` in {self.describe()}.",
            hint="Use the sweep id from the sweep URL (…/sweeps/<id>) in candidate.sweep.",
        )
        path = f"{self.path}/{sweep_id}"
        doing = f"reading sweep `{sweep_id}`"
        config = self.call(doing, lambda: self.api.sweep(path).config, missing=missing)
        metric = config.get("metric") or {}
        name, goal = metric.get("name"), metric.get("goal", "minimize")
        if not name:
            raise TrackerError(
                f"W&B sweep `{sweep_id}` has no `metric` in its config.",
                hint="Add `metric: {name: ..., goal: maximize}` to the sweep configuration.",
            )
        # A few runs, not one: a diverged run ("NaN") can sort first; the best is the first number.
        query = RunQuery(limit=10, order_by=str(name), descending=goal == "maximize",
                         extra_filter=json.dumps({"sweep": sweep_id}))  # fmt: skip
        runs = [r for r in self.search(query) if finite(r.metric(str(name)))]
        if not runs:
            raise TrackerError(
                f"W&B sweep `{sweep_id}` has no finished run with `{name}`.",
                hint="Wait for the sweep's runs to finish, or check the sweep id.",
            )
        return runs[0]

    # -- SDK calls ---------------------------------------------------------------------------------
    @property
    def api(self) -> Any:
        if self._api_obj is None:
            self._api_obj = self.fresh_api()
        return self._api_obj

    def fresh_api(self) -> Any:
        """A new `wandb.Api`: nothing cached (each Api caches runs and artifacts it has read)."""
        import wandb

        settings.prepare_wandb(float(self.timeout))
        overrides = {"entity": self.entity, "project": self.project, "base_url": self.base_url}
        return self.call(
            "connecting",
            lambda: wandb.Api(overrides=overrides, timeout=self.timeout, api_key=self._key),
        )

    def _runs(self, search: Search, doing: str, commits: Sequence[str]) -> list[Run]:
        """ONE `Runs` page of `search.limit` runs: islice never asks for a second page."""

        def fetch() -> list[Any]:
            api = self.api
            # `Api.runs` caches by path + filters + order but not page size (wandb 0.31.0
            # apis/public/api.py): a second search must not be served a page of another size.
            cache = getattr(api, "_runs", None)
            if isinstance(cache, dict):
                cache.clear()
            runs = api.runs(
                self.path,
                filters=dict(search.filters),
                order=search.order,
                per_page=max(1, search.limit),
                include_sweeps=False,
                lazy=False,
            )
            return list(itertools.islice(runs, max(0, search.limit)))

        log.debug("W&B search in %s: filters %s, order %s, limit %d",
                  self.path, json.dumps(search.filters), search.order, search.limit)  # fmt: skip
        missing = TrackerError(
            f"W&B project `{self.path}` was not found at {self.base_url}.",
            hint="Check tracker.experiment (`entity/project`, as in the project URL) and that "
            "the WANDB_API_KEY user can see the project.",
        )
        found = self.call(doing, fetch, missing=missing)
        return [to_run(run, self.commit_key, self.branch_key, commits) for run in found]

    def fetch_run(self, run_id: str) -> Any:
        missing = RunNotFoundError(
            f"no run `{run_id}` in {self.describe()}.",
            hint="Use the run id from the run URL (…/runs/<id>), not its display name.",
        )
        path = f"{self.path}/{run_id}"
        return self.call(f"reading run `{run_id}`", lambda: self.api.run(path), missing=missing)

    def call(
        self,
        doing: str,
        fn: Callable[[], Any],
        *,
        missing: MlGateError | artifacts.Missing | None = None,
    ) -> Any:
        """Run an SDK call; a failed request -> TrackerError, a local "not found" -> `missing`."""
        try:
            return fn()
        except MlGateError:
            raise
        except Exception as exc:
            if missing is not None and api_failure(exc) is None:
                if isinstance(missing, artifacts.Missing):
                    return missing
                raise missing from None
            raise self.classifier.error(exc, doing) from None

    # -- comparability (`comparable.inputs`) --------------------------------------------------
    def used_datasets(self, run_id: str) -> tuple[DatasetInput, ...]:
        """The artifacts the run used (`Run.used_artifacts()`: name without the `:vN` alias,
        content digest), read only when `comparable.inputs` asks for them (one request)."""
        used = artifacts.used(self, self.fetch_run(run_id))  # in any state (artifacts.py)
        return tuple(DatasetInput(str(a.name).rsplit(":", 1)[0], str(a.digest), None) for a in used)
