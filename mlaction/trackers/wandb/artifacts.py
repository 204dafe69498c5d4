"""Model artifacts: what `registry:`, `baseline: alias` and `promote:` read and write.

A model is an artifact collection of this project (any type, usually `model`); a version is W&B's
`vN`; a version's tags are its metadata (stringified like params); its run is the run that logged
it. Promotion adds the alias through the client (`artifact.aliases = [...]`, `artifact.save()`,
which in wandb 0.31.0 sends `AddAliases` then `UpdateArtifact`, `sdk/artifacts/artifact.py`
`_update`). W&B keeps an alias on one version of a collection, so it leaves the version that had
it. The alias is read back afterwards: ml-gate reports what holds, not what it asked for.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlaction.errors import AliasNotFoundError, PromotionError, TrackerError
from mlaction.runs import ModelVersionRef
from mlaction.trackers.wandb.errors import api_failure, status_of
from mlaction.trackers.wandb.mapping import param
from mlaction.trackers.wandb.settings import KEY_HINT

if TYPE_CHECKING:
    from mlaction.trackers.wandb.tracker import WandbTracker

# W&B manages `latest` and the version names itself (wandb 0.31.0 `Artifact.link`: "The latest
# alias is automatically applied"), and aliases hold no `/` or `:` (`_validators.py`
# ARTIFACT_SEP_CHARS) and at most 128 characters (NAME_MAXLEN).
_RESERVED = re.compile(r"latest|v\d+")
_ALIAS_SEPARATORS = frozenset("/:")
ALIAS_MAXLEN = 128


class Missing:
    """Marks an optional lookup that found nothing."""


def version_ref(model: str, artifact: Any, run_id: str | None) -> ModelVersionRef:
    metadata = artifact.metadata or {}
    return ModelVersionRef(
        model=model,
        version=str(artifact.version),
        run_id=run_id,
        aliases=tuple(artifact.aliases),
        tags=tuple(sorted((str(k), param(v)) for k, v in metadata.items())),
    )


def version_index(version: str) -> int | None:
    """`v3` (W&B's name) or `3` -> 3; anything else (an alias, `latest`) -> None."""
    digits = version.strip().removeprefix("v")
    return int(digits) if digits.isdigit() and digits.isascii() else None


def alias_problem(alias: str) -> str | None:
    """Why W&B would not keep `alias` as ml-gate means it; None when it would."""
    if not alias.strip() or _ALIAS_SEPARATORS.intersection(alias):
        return "a W&B alias is not empty and holds no `/` or `:`"
    if _RESERVED.fullmatch(alias):
        return "W&B manages `latest` and the version names (`v0`, `v1`, …) itself"
    if len(alias) > ALIAS_MAXLEN:
        return f"a W&B alias has at most {ALIAS_MAXLEN} characters"
    return None


def resolve_alias(t: WandbTracker, model: str, alias: str) -> ModelVersionRef:
    missing = AliasNotFoundError(
        f"no `{model}` artifact with alias `{alias}` in {t.describe()}.",
        hint=f"Log the model with `run.log_artifact(artifact, aliases=['{alias}'])`, add "
        "the alias in the W&B UI, or fix baseline.model / baseline.alias.",
    )
    name = f"{t.path}/{model}:{alias}"
    doing = f"resolving `{model}:{alias}`"
    artifact = t.call(doing, lambda: t.api.artifact(name), missing=missing)
    gone = Missing()  # the run that logged it was deleted: no run id
    doing = f"finding the run that logged `{model}:{alias}`"
    creator = t.call(doing, artifact.logged_by, missing=gone)
    run_id = None if creator is None or creator is gone else str(creator.id)
    return version_ref(model, artifact, run_id)


def model_versions(t: WandbTracker, model: str, run_id: str) -> list[ModelVersionRef]:
    """The versions of collection `model` that run `run_id` logged in this project, newest first."""
    run = t.fetch_run(run_id)
    doing = f"listing the artifacts logged by run `{run_id}`"
    logged = t.call(doing, lambda: [a for a in run.logged_artifacts() if a is not None])
    mine = [
        a
        for a in logged
        if str(a.name).rsplit(":", 1)[0] == model and (a.entity, a.project) == (t.entity, t.project)
    ]
    refs = [version_ref(model, a, run_id) for a in mine]
    return sorted(refs, key=lambda ref: version_index(ref.version) or 0, reverse=True)


def set_alias(t: WandbTracker, model: str, alias: str, version: str) -> None:
    """Add `alias` to `model:vN`, then read it back: success only when W&B says it holds."""
    index = version_index(version)
    where = f"`{t.path}/{model}`"
    if index is None:
        raise PromotionError(
            f"cannot point alias `{alias}` of W&B artifact {where} at `{version}`: not a version.",
            hint="Give the version as W&B names it: `v0`, `v1`, … (the artifact's Versions tab).",
        )
    if problem := alias_problem(alias):
        raise PromotionError(f"`{alias}` cannot be a W&B artifact alias: {problem}.",
                             hint="Fix promote.alias.")  # fmt: skip
    what = f"alias `{alias}` of W&B artifact {where} to v{index}"
    artifact = _version(t, model, index, alias, what)
    if alias in artifact.aliases:
        return  # already there: nothing to move
    failed: BaseException | None = None
    try:
        artifact.aliases = [*artifact.aliases, alias]
        artifact.save()
    except Exception as exc:  # AddAliases may have landed before UpdateArtifact failed
        failed = exc
    holder = _holder(t, model, alias)
    if holder == f"v{index}":
        return  # the alias holds, whatever the second mutation said
    if failed is not None:
        raise promotion_error(t, failed, what) from None
    raise PromotionError(
        f"W&B accepted moving {what}, but reading it back the alias is "
        f"{f'on {holder}' if holder else 'on no version'}.",
        hint="Check the collection's aliases in the W&B UI (a protected alias, or another job "
        "moving it at the same time) and re-run the promotion.",
    )


def _version(t: WandbTracker, model: str, index: int, alias: str, what: str) -> Any:
    try:
        api = t.api
        return api.artifact(f"{t.path}/{model}:v{index}")
    except TrackerError as exc:
        raise PromotionError(f"moving {what} failed: {exc.message}", hint=exc.hint) from None
    except Exception as exc:
        if api_failure(exc) is None:  # answered: no such version
            raise PromotionError(
                f"no version v{index} of W&B artifact `{t.path}/{model}`: cannot point alias "
                f"`{alias}` at it.",
                hint="Check promote.model (the artifact name) and that the candidate run "
                "logged that version with `run.log_artifact(...)` in this project.",
            ) from None
        raise promotion_error(t, exc, what) from None


def _holder(t: WandbTracker, model: str, alias: str) -> str | None:
    """The version `alias` is on now, read fresh (a new Api: no cached artifact)."""
    try:
        return str(t.fresh_api().artifact(f"{t.path}/{model}:{alias}").version)
    except Exception as exc:
        if api_failure(exc) is None:
            return None
        raise promotion_error(t, exc, f"reading back alias `{alias}` of `{model}`") from None


def promotion_error(t: WandbTracker, exc: BaseException, what: str) -> PromotionError:
    status = status_of(api_failure(exc))
    if status in (401, 403):
        return PromotionError(
            f"W&B refused (HTTP {status}) to move {what} at {t.base_url}.",
            hint="WANDB_API_KEY must be valid for this server and belong to a user or "
            f"service account that can write to project `{t.path}` (a member of the "
            f"entity, not a viewer). {KEY_HINT}",
        )
    error = t.classifier.error(exc, f"moving {what}")
    return PromotionError(error.message, hint=error.hint)
