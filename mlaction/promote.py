"""Promotion on green: move a registry alias to the candidate's model version.

Only for the events and branches the config names, never for a pull request, only when the gate
passed. Idempotent: an alias already on the candidate's version is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlaction.config import PromoteConfig
from mlaction.errors import AliasNotFoundError, PromotionError
from mlaction.runs import ModelVersionRef, Run
from mlaction.trackers.base import Tracker

Action = Literal["promoted", "already", "would_promote", "skipped", "failed"]
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True)
class PromotionResult:
    model: str
    alias: str
    action: Action
    version: str | None = None
    previous: str | None = None
    reason: str = ""


def skip_reason(
    config: PromoteConfig, verdict: str, event: str | None, branch: str | None
) -> str | None:
    """Why this run must not promote; None when it may. `event=None`: asked for explicitly."""
    if event in PULL_REQUEST_EVENTS:
        return "pull requests never promote"
    if event is not None and event not in config.on:
        return f"`{event}` is not one of `promote.on` ({', '.join(config.on)})"
    if branch not in config.branches:
        where = f"branch `{branch}`" if branch else "an unknown branch"
        return f"{where} is not one of `promote.branches` ({', '.join(config.branches)})"
    if verdict != "pass":
        return f"the gate did not pass (verdict: {verdict})"
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
