"""The W&B Registry: `registry:`, `baseline: alias` and `promote:` on a registry collection.

A `model` of the form `wandb-registry-<name>/<collection>` or `<org>/wandb-registry-<name>/
<collection>` is a collection of W&B's Registry (the path W&B documents for
`Api().artifact(...)` and `Artifact.link(target_path)`); a plain name is an artifact of the
tracked project (artifacts.py); anything else is refused. Without `<org>`, the organization is
`$WANDB_ORGANIZATION`, else the one organization of the project's entity, as the wandb client
resolves it (0.31.0 sdk/artifacts/_gqlutils.py `_resolve_org_info`, `FetchOrgInfoFromEntity`).

A collection's versions are links to artifacts logged in projects: version `vN` of the
collection is the N+1-th link, its run is the run that logged the linked artifact. Promotion
links the candidate's artifact with the alias (`Artifact.link(path, aliases=[alias])`, the
`LinkArtifact` mutation), which takes the alias off the version that had it, then reads the
alias back: ml-gate reports what holds, not what it asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlaction.errors import AliasNotFoundError, PromotionError, TrackerError, UsageError
from mlaction.runs import ModelVersionRef
from mlaction.trackers.wandb.artifacts import (
    Missing,
    alias_on_uncommitted,
    alias_problem,
    logged,
    promotion_error,
    uncommitted,
    version_index,
    version_ref,
)
from mlaction.trackers.wandb.errors import api_failure, status_of
from mlaction.trackers.wandb.settings import KEY_HINT

if TYPE_CHECKING:
    from mlaction.trackers.wandb.tracker import WandbTracker

PREFIX = "wandb-registry-"  # wandb 0.31.0 sdk/artifacts/_validators.py REGISTRY_PREFIX
# A W&B name part: no `/` or `:` (artifact names, `_validators.py` INVALID_URL_CHARS)
_PART = r"[^/:\s]+"
_ORG = r"[^/:\s](?:[^/:]*[^/:\s])?"  # an org's display name may hold spaces ("Acme Corp")
_REGISTRY_PATH = re.compile(
    rf"(?:(?P<org>{_ORG})/)?(?P<registry>{PREFIX}{_PART})/(?P<coll>{_PART})"
)
_PLAIN = re.compile(_PART)
MAX_LOGGED = 100  # artifacts of one run whose links are read (one request each)
SHAPES = (
    "a W&B `model` is an artifact name of the tracked project (`iris-model`) or a W&B Registry "
    "collection (`wandb-registry-model/iris-classifier` or "
    "`<org>/wandb-registry-model/iris-classifier`)"
)


@dataclass(frozen=True)
class RegistryPath:
    org: str | None
    registry: str  # wandb-registry-<name>
    collection: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.collection}"


def parse_model(model: str) -> RegistryPath | None:
    """A registry collection, None for a project artifact name; anything else is refused."""
    match = _REGISTRY_PATH.fullmatch(model)
    if match:
        return RegistryPath(match["org"], match["registry"], match["coll"])
    if _PLAIN.fullmatch(model) and not model.startswith(PREFIX):
        return None
    raise UsageError(
        f"`{model}` is not a W&B model: {SHAPES}.",
        hint="Fix registry.model / baseline.model / promote.model. The legacy Model Registry's "
        "`<entity>/model-registry/<name>` is migrated by W&B to `wandb-registry-model/<name>`.",
    )


def org_entity(t: WandbTracker, path: RegistryPath) -> str:
    """The org entity the registry lives under (what W&B names the collection's entity)."""
    org = path.org or os.environ.get("WANDB_ORGANIZATION") or None
    api = t.api
    try:
        # the resolution `Api.artifact` and `Artifact.link` do for a registry path (wandb
        # 0.27.1 .. 0.31.0 `Api._resolve_org_entity_name`; cached per client)
        return str(api._resolve_org_entity_name(non_org_entity=t.entity, org_or_entity=org))
    except Exception as exc:
        if api_failure(exc) is not None:
            raise t.classifier.error(exc, f"finding the organization of `{path}`") from None
        raise TrackerError(
            f"cannot tell which W&B organization `{path}` is in for entity `{t.entity}`: "
            f"{str(exc)[:300]}",
            hint="Name the organization in the path (`<org>/wandb-registry-…/…`, as the "
            "collection's page in the Registry shows it) or set WANDB_ORGANIZATION.",
        ) from None


def _qualified(t: WandbTracker, path: RegistryPath) -> str:
    return f"{org_entity(t, path)}/{path}"


def resolve_alias(t: WandbTracker, model: str, path: RegistryPath, alias: str) -> ModelVersionRef:
    missing = AliasNotFoundError(
        f"no version of W&B Registry collection `{path}` has alias `{alias}`.",
        hint=f"Link a version with `artifact.link('{path}', aliases=['{alias}'])`, add the "
        "alias in the Registry, or fix baseline.model / baseline.alias.",
    )
    name = f"{_qualified(t, path)}:{alias}"
    linked = t.call(f"resolving `{path}:{alias}`", lambda: t.api.artifact(name), missing=missing)
    if pending := alias_on_uncommitted(linked, f"W&B Registry collection `{path}`", alias):
        raise pending
    gone = Missing()
    doing = f"finding the run that logged `{path}:{alias}`"
    creator = t.call(doing, linked.logged_by, missing=gone)
    if creator is None or creator is gone:
        return _ref(model, linked, None)
    where = (str(creator.entity), str(creator.project))
    if where != (t.entity, t.project):
        raise TrackerError(
            f"`{path}:{alias}` ({linked.version}) was logged by run `{creator.id}` in W&B "
            f"project `{'/'.join(where)}`, not in `{t.path}`.",
            hint="Point tracker.experiment at the project whose runs make this collection's "
            "versions: the gate reads the runs of one project.",
        )
    return _ref(model, linked, str(creator.id))


def _ref(model: str, linked: Any, run_id: str | None) -> ModelVersionRef:
    """A collection version: its aliases without `vN`; its tags are the linked artifact's
    metadata keys and its W&B tags (`Artifact.tags`, present: `true`)."""
    ref = version_ref(model, linked, run_id)
    keys = {key for key, _ in ref.tags}
    tags = ref.tags + tuple((str(tag), "true") for tag in linked.tags or () if tag not in keys)
    aliases = tuple(a for a in ref.aliases if not _is_v(a))
    return ModelVersionRef(ref.model, str(linked.version), run_id, aliases, tuple(sorted(tags)))


def _is_v(alias: str) -> bool:
    return alias.startswith("v") and version_index(alias) is not None


def model_versions(
    t: WandbTracker, model: str, path: RegistryPath, run_id: str
) -> list[ModelVersionRef]:
    """The collection's versions that link artifacts run `run_id` logged, newest first."""
    where = (org_entity(t, path), path.registry, path.collection)
    refs = []
    for artifact in _logged(t, run_id):
        doing = f"reading the Registry links of `{artifact.name}`"
        # every logged artifact is a member of its own sequence, so an empty answer (a
        # ValueError in wandb 0.31.0 `_fetch_linked_artifacts`) is an error, not "no links"
        for linked in t.call(doing, _links_of(artifact)):
            if (linked.entity, linked.project, str(linked.name).rsplit(":", 1)[0]) == where:
                refs.append(_ref(model, linked, run_id))
    return sorted(refs, key=lambda ref: version_index(ref.version) or 0, reverse=True)


def _links_of(artifact: Any) -> Callable[[], Any]:
    return lambda: artifact.linked_artifacts  # wandb >= 0.2x `Artifact.linked_artifacts`


def _logged(t: WandbTracker, run_id: str) -> list[Any]:
    """The committed artifacts the run logged: a PENDING one is no model version (artifacts.py)."""
    found = logged(t, t.fetch_run(run_id))
    if len(found) > MAX_LOGGED:
        raise TrackerError(
            f"run `{run_id}` logged {len(found)} artifacts; ml-gate reads the Registry links "
            f"of at most {MAX_LOGGED} (one request each).",
            hint="Log checkpoints to another run, or gate on a project artifact name instead.",
        )
    return found


def promotion_versions(
    t: WandbTracker, model: str, path: RegistryPath, run_id: str
) -> list[ModelVersionRef]:
    """What promotion links: the candidate's versions already in the collection, else the
    artifacts it logged in this project under the collection's name (not linked yet; their
    `version` is the artifact's own path, `entity/project/name:vN`)."""
    linked = model_versions(t, model, path, run_id)
    if linked:
        return linked
    mine = [
        a
        for a in _logged(t, run_id)
        if str(a.name).rsplit(":", 1)[0] == path.collection
        and (a.entity, a.project) == (t.entity, t.project)
    ]
    mine.sort(key=lambda a: version_index(str(a.version)) or 0, reverse=True)
    return [
        ModelVersionRef(
            model,
            f"{t.path}/{a.name}",
            run_id,
            tuple(a.aliases),
            version_ref(model, a, run_id).tags,
        )
        for a in mine
    ]


def set_alias(t: WandbTracker, path: RegistryPath, alias: str, version: str) -> None:
    """Link the version's artifact into the collection with `alias`, then read it back."""
    if problem := alias_problem(alias):
        raise PromotionError(f"`{alias}` cannot be a W&B alias: {problem}.",
                             hint="Fix promote.alias.")  # fmt: skip
    target = _qualified(t, path)
    what = f"alias `{alias}` of W&B Registry collection `{path}` to {version}"
    source = _source(t, path, target, version, what)
    failed: BaseException | None = None
    try:
        source.link(target, aliases=[alias])
    except Exception as exc:  # the link may have landed before the re-fetch failed
        failed = exc
    holder = _holder(t, target, alias, what)
    if holder is not None and str(holder.id) == str(source.id):
        return  # the alias is on a version linking the candidate's artifact
    if failed is not None:
        raise _refused(t, failed, what) from None
    on = f"on {holder.version}, which links another artifact" if holder else "on no version"
    raise PromotionError(
        f"W&B accepted linking {what}, but reading it back the alias is {on}.",
        hint="Check the collection in the W&B Registry (a protected alias only a registry "
        "admin may move, or another job moving it at the same time) and re-run the promotion.",
    )


def _source(t: WandbTracker, path: RegistryPath, target: str, version: str, what: str) -> Any:
    """The logged artifact to link: behind collection version `vN`, or `entity/project/name:vN`."""
    index = version_index(version)
    linked = index is not None
    if linked:
        name = f"{target}:v{index}"
    elif version.startswith(f"{t.path}/") and version_index(version.rsplit(":")[-1]) is not None:
        name = version
    else:
        raise PromotionError(
            f"cannot point {what}: not a version.",
            hint=f"Give a version of `{path}` (`v0`, `v1`, …) or an artifact of `{t.path}`.",
        )
    try:
        api = t.api
        artifact = api.artifact(name)
        # link the logged artifact itself (linking a link warns, wandb 0.31.0 `link`)
        source = artifact.source_artifact if linked else artifact
    except Exception as exc:
        if api_failure(exc) is None:
            raise PromotionError(
                f"no W&B artifact `{name}`: cannot point {what}.",
                hint="Check promote.model and that the candidate run logged the model in "
                f"`{t.path}` with `run.log_artifact(...)`.",
            ) from None
        raise _refused(t, exc, what) from None
    if why := uncommitted(source):  # `Api.artifact` returns a version in any state
        raise PromotionError(
            f"cannot point {what}: W&B artifact `{name}` is not committed ({why}).",
            hint="Promote a committed version: wait for the upload to finish, or log it again.",
        )
    return source


def _holder(t: WandbTracker, target: str, alias: str, what: str) -> Any:
    """The version `alias` is on now, read fresh (a new Api: nothing cached)."""
    try:
        return t.fresh_api().artifact(f"{target}:{alias}")
    except Exception as exc:
        if api_failure(exc) is None:
            return None
        raise _refused(t, exc, f"reading back {what}") from None


def _refused(t: WandbTracker, exc: BaseException, what: str) -> PromotionError:
    if status_of(api_failure(exc)) in (401, 403):
        return PromotionError(
            f"W&B refused (HTTP {status_of(api_failure(exc))}) to move {what} at {t.base_url}.",
            hint="Linking needs a WANDB_API_KEY whose user (or service account) has the Member "
            "or Admin role in that registry and can read the artifact's project "
            f"`{t.path}`; a protected alias needs a registry Admin. {KEY_HINT}",
        )
    return promotion_error(t, exc, what)
