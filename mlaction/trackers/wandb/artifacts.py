"""Model artifacts: what `registry:`, `baseline: alias` and `promote:` read and write.

A model is an artifact collection of this project (any type, usually `model`); a version is W&B's
`vN`; a version's tags are its metadata (stringified like params); its run is the run that logged
it. Promotion adds the alias through the client (`artifact.aliases = [...]`, `artifact.save()`,
which in wandb 0.31.0 sends `AddAliases` then `UpdateArtifact`, `sdk/artifacts/artifact.py`
`_update`). W&B keeps an alias on one version of a collection, so it leaves the version that had
it. The alias is read back afterwards: ml-gate reports what holds, not what it asked for.

Only COMMITTED versions count (`Artifact.state`, sdk/artifacts/artifact_state.py): a PENDING
one was created but its upload did not finish (or failed), a DELETED one is gone.
`Run.logged_artifacts()` (apis/public/artifacts.py `RunArtifacts`) asks the server for every
state, unlike `Api.artifacts(...)`, which asks for `{"state": "COMMITTED"}`; so do
`Api.artifact(name)` (ArtifactMembershipByName takes no filter) and `Run.used_artifacts()`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
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
COMMITTED = "COMMITTED"  # sdk/artifacts/artifact_state.py `ArtifactState.COMMITTED`
_STATES = {"PENDING": "its upload did not finish", "DELETED": "it was deleted"}

log = logging.getLogger(__name__)


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


def uncommitted(artifact: Any) -> str | None:
    """Why `artifact` does not count (`state PENDING: its upload did not finish`), or None."""
    return _why(artifact.state)


def _why(state: Any) -> str | None:
    state = str(getattr(state, "value", state))  # a str, or the client's ArtifactState enum
    if state == COMMITTED:
        return None
    return f"state {state}: {_STATES.get(state, 'not committed')}"


def committed(artifacts: Iterable[Any], where: str) -> list[Any]:
    """The committed ones; each other one is named in a debug line."""
    kept = []
    for artifact in artifacts:
        if artifact is None:  # `RunArtifacts` answers None for an artifact without a project
            continue
        if why := uncommitted(artifact):
            log.debug("W&B artifact `%s` of %s is not committed (%s): not counted",
                      artifact.name, where, why)  # fmt: skip
        else:
            kept.append(artifact)
    return kept


def logged(t: WandbTracker, run: Any) -> list[Any]:
    """The committed artifacts `run` logged (`Run.logged_artifacts()` answers every state)."""
    where = f"run `{run.id}`"
    doing = f"listing the artifacts logged by {where}"
    found = t.call(doing, lambda: list(_skip_uncommitted(run.logged_artifacts(), where)))
    return committed(found, where)


def used(t: WandbTracker, run: Any) -> list[Any]:
    """The artifacts `run` used (`Run.used_artifacts()`), in every state the client can read:
    the run read that content, and the digest (`Artifact.digest`, the checksum of the
    contents) names it whatever the state; leaving one out could make two runs' inputs look
    alike. A PENDING one, which wandb 0.31.0 cannot read, stops the comparison."""
    where = f"run `{run.id}`"
    doing = f"listing the artifacts used by {where}"
    listing = run.used_artifacts
    return list(t.call(doing, lambda: list(_skip_uncommitted(listing(), where, used=True))))


def _skip_uncommitted(listing: Any, where: str, *, used: bool = False) -> Any:
    """`listing`, made to skip a node that is not committed before the client converts it
    (or, for `used`, to refuse a PENDING one).

    wandb 0.31.0 cannot convert a PENDING node: `Artifact._from_attrs` asserts the artifact's
    id, which `Artifact.id` hides for a PENDING (draft) artifact, so one such node fails the
    whole listing (an AssertionError). `RelayPaginator.convert_objects` (apis/paginator.py)
    skips what `_convert` answers falsey. A client without that hook converts every node:
    a DELETED one is then dropped by `committed`, a PENDING one still fails the listing, which
    stops the gate with exit 2 (never a pass).
    """
    convert = getattr(listing, "_convert", None)
    if not callable(convert):
        return listing

    def keep(node: Any) -> Any:
        state = getattr(node, "state", None)
        why = None if state is None else _why(state)
        if why is None or (used and "PENDING" not in why):
            return convert(node)
        seq = getattr(getattr(node, "artifact_sequence", None), "name", "?")
        name = f"{seq}:v{getattr(node, 'version_index', '?')}"
        if used:
            raise TrackerError(
                f"{where} used W&B artifact `{name}`, which is not committed ({why}): its "
                "inputs cannot be compared (`comparable.inputs`).",
                hint="Re-run once the artifact's upload has finished (`artifact.wait()`).",
            )
        log.debug("W&B artifact `%s` of %s is not committed (%s): not counted", name, where, why)
        return None

    listing._convert = keep
    return listing


def alias_on_uncommitted(artifact: Any, where: str, alias: str) -> AliasNotFoundError | None:
    """An alias on a version that is not committed resolves to nothing. An alias normally names
    a committed version (W&B deletes a version only with its aliases, `Artifact.delete`), but
    ArtifactMembershipByName takes no state filter, so ml-gate checks what it is given (wandb
    0.31.0 cannot build a PENDING one at all: its AssertionError reads as "no such alias").
    Resolving to nothing: no baseline (an error), no `registry.require_alias` match (the
    check fails), and promotion moves the alias onto the candidate's committed version."""
    why = uncommitted(artifact)
    if why is None:
        return None
    return AliasNotFoundError(
        f"alias `{alias}` of {where} is on version {artifact.version}, which is not committed "
        f"({why}).",
        hint="Wait for the upload to finish (`artifact.wait()` in the training run), or move "
        "the alias to a committed version.",
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
    if pending := alias_on_uncommitted(artifact, f"`{model}` in {t.describe()}", alias):
        raise pending
    gone = Missing()  # the run that logged it was deleted: no run id
    doing = f"finding the run that logged `{model}:{alias}`"
    creator = t.call(doing, artifact.logged_by, missing=gone)
    run_id = None if creator is None or creator is gone else str(creator.id)
    return version_ref(model, artifact, run_id)


def model_versions(t: WandbTracker, model: str, run_id: str) -> list[ModelVersionRef]:
    """The versions of collection `model` that run `run_id` logged in this project, newest first."""
    mine = [
        a
        for a in logged(t, t.fetch_run(run_id))
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
        artifact = api.artifact(f"{t.path}/{model}:v{index}")
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
    if why := uncommitted(artifact):  # a version by name: `Api.artifact` returns any state
        raise PromotionError(
            f"cannot point alias `{alias}` at v{index} of W&B artifact `{t.path}/{model}`: that "
            f"version is not committed ({why}).",
            hint="Promote a committed version: wait for the upload to finish, or log it again.",
        )
    return artifact


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
