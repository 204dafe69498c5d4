"""Promotion on green: move a registry alias to the candidate's model version.

Only for the events, branches and tags the config names, never for a pull request or anything a
fork produced, only when the gate passed. Idempotent: an alias already on the candidate's version
is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from mlaction.config import PromoteConfig
from mlaction.errors import AliasNotFoundError, PromotionError
from mlaction.runs import ModelVersionRef, Run
from mlaction.trackers.base import Tracker

Action = Literal["promoted", "already", "would_promote", "skipped", "failed"]
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True)
class PromotionContext:
    """Where this gate runs, for promotion's rules. `event_name=None`: asked for explicitly.

    `repository` is the workflow's own repository; `head_repository` the repository the judged
    commit came from (a PR's or a `workflow_run`'s head); `workflow_run_event` the event that
    triggered the run a `workflow_run` reacts to; `tag` the tag of a tag push or release.
    """

    event_name: str | None
    branch: str | None
    tag: str | None = None
    repository: str | None = None
    head_repository: str | None = None
    workflow_run_event: str | None = None
    is_fork: bool = False


@dataclass(frozen=True)
class PromotionResult:
    model: str
    alias: str
    action: Action
    version: str | None = None
    previous: str | None = None
    reason: str = ""


def skip_reason(config: PromoteConfig, verdict: str, context: PromotionContext) -> str | None:
    """Why this run must not promote; None when it may."""
    reason = untrusted_origin(context)
    if reason:
        return reason
    event = context.event_name
    if event is not None and event not in config.on:
        return f"`{event}` is not one of `promote.on` ({', '.join(config.on)})"
    if context.tag is not None or event == "release":
        tag = context.tag
        if tag is None or not any(fnmatchcase(tag, pattern) for pattern in config.tags):
            where = f"tag `{tag}`" if tag else "an unknown tag"
            listed = ", ".join(config.tags) or "none listed"
            return f"{where} is not one of `promote.tags` ({listed})"
    elif context.branch not in config.branches:
        where = f"branch `{context.branch}`" if context.branch else "an unknown branch"
        return f"{where} is not one of `promote.branches` ({', '.join(config.branches)})"
    if verdict != "pass":
        return f"the gate did not pass (verdict: {verdict})"
    return None


def untrusted_origin(context: PromotionContext) -> str | None:
    """A pull request, or a commit or run that came from a fork, never promotes."""
    if context.event_name in PULL_REQUEST_EVENTS:
        return "pull requests never promote"
    if context.is_fork or (
        context.head_repository is not None
        and context.repository is not None
        and context.head_repository != context.repository
    ):
        return f"the commit comes from another repository ({context.head_repository or 'a fork'})"
    if context.event_name == "workflow_run":
        triggered_by = context.workflow_run_event
        if triggered_by is None or triggered_by.startswith("pull_request"):
            shown = f"`{triggered_by}`" if triggered_by else "an unknown event"
            return f"the workflow run was triggered by {shown}, not by the repository's own branch"
        if context.head_repository is None or context.repository is None:
            return "the repository the workflow run's commit came from is unknown"
    return None


def promote(
    config: PromoteConfig, tracker: Tracker, candidate: Run, *, dry_run: bool
) -> PromotionResult:
    """Point `config.alias` at the candidate's newest version of `config.model`."""
    # a tracker may promote versions not registered yet (a W&B Registry collection links them)
    listing = getattr(tracker, "promotion_versions", tracker.model_versions)
    versions: list[ModelVersionRef] = listing(config.model, candidate.id)
    if not versions:
        raise PromotionError(
            f"cannot promote: the candidate run `{candidate.label}` ({candidate.id}) has no "
            f"version of model `{config.model}`.",
            hint="Register the model from the training run (MLflow: "
            "`mlflow.register_model(f'runs:/{run_id}/model', NAME)` or `log_model(..., "
            "registered_model_name=NAME)`; W&B: `run.log_artifact(artifact)` with that name), "
            "or fix `promote.model`.",
        )
    target = versions[0].version
    try:
        previous: str | None = tracker.resolve_alias(config.model, config.alias).version
    except AliasNotFoundError:
        previous = None
    if previous == target:
        return PromotionResult(
            config.model,
            config.alias,
            "already",
            target,
            previous,
            f"`{config.alias}` already points at version {target}",
        )
    if dry_run:
        return PromotionResult(
            config.model,
            config.alias,
            "would_promote",
            target,
            previous,
            "dry run: nothing was changed",
        )
    tracker.set_alias(config.model, config.alias, target)
    return PromotionResult(config.model, config.alias, "promoted", target, previous)
