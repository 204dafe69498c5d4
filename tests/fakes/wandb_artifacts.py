"""The fake W&B's artifact operations, as wandb 0.31.0 (and the 0.27.1 floor) send them.

Sources: wandb/sdk/artifacts/_generated/operations.py (ArtifactMembershipByName, ArtifactByName,
ArtifactCreatedBy, RunOutputArtifacts, RunInputArtifacts, ProjectArtifacts, AddAliases,
UpdateArtifact) and artifact.py `_update`.

An artifact version has a state (sdk/artifacts/artifact_state.py `ArtifactState`: PENDING while
its upload is not committed or after a failed one, COMMITTED, DELETED), answered in each
ArtifactFragment's `state`. Which answers hold non-committed versions follows what the client
asks: only `Api.artifacts(type, name)` (apis/public/artifacts.py `Artifacts.__init__`) sends
`filters: {"state": "COMMITTED"}`, and only ProjectArtifacts takes a `filters` argument, so
only that answer is filtered. RunOutputArtifacts / RunInputArtifacts (`Run.logged_artifacts()`,
`Run.used_artifacts()`: apis/public/artifacts.py `RunArtifacts`) and ArtifactMembershipByName
(`Api.artifact(name)`, artifact.py `Artifact._from_name`) take no filter: the fake answers every
state there, the worst case for ml-gate (what W&B's server leaves out is not documented).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fakes.wandb_registry import REGISTRY_PREFIX, link_aliases, registry_membership

if TYPE_CHECKING:
    from fakes.wandb_server import FakeArtifact, FakeWandbServer

_CREATED = "2024-01-01T00:00:00"  # W&B's naive UTC timestamps


def artifact_node(s: FakeWandbServer, art: FakeArtifact) -> dict[str, Any]:
    """An ArtifactFragment (sdk/artifacts/_generated/operations.py), in the artifact's state."""
    project = s.project_node({"entity": art.entity, "project": art.project})
    collection = {"__typename": "ArtifactSequence", "id": f"seq-{art.name}",
                  "name": art.name, "project": project}  # fmt: skip
    return {
        "__typename": "Artifact", "id": art.id, "artifactSequence": collection,
        "versionIndex": art.version, "artifactType": {"name": art.type}, "description": None,
        "metadata": json.dumps(art.metadata), "ttlDurationSeconds": -1,
        "ttlIsInherited": True, "historyStep": None, "state": art.state,
        "tags": [{"__typename": "Tag", "id": f"tag-{t}", "name": t} for t in art.tags],
        "size": 0, "digest": f"digest-{art.id}", "digestAlgorithm": "MANIFEST_MD5",
        "commitHash": None, "fileCount": 0, "createdAt": _CREATED, "updatedAt": None,
        "aliases": [{"__typename": "ArtifactAlias", "id": f"{art.id}-{a}", "alias": a,
                     "artifactCollection": collection} for a in art.aliases]
        + link_aliases(s, art),  # and in each registry collection it is linked into
    }  # fmt: skip


def _membership(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    if str(v["project"]).startswith(REGISTRY_PREFIX):  # a registry collection: its links
        return registry_membership(s, v)
    project = s.project_node(v)
    if project is None:
        return {"project": None}
    name, _, ref = str(v["name"]).partition(":")
    found = None
    for art in s.artifacts:
        if (art.entity, art.project, art.name) == (v["entity"], v["project"], name) and (
            ref in art.aliases or ref == f"v{art.version}"
        ):
            found = art
    if found is None:
        return {"project": {**project, "artifactCollectionMembership": None}}
    node = s.artifact_node(found)
    membership = {"__typename": "ArtifactCollectionMembership", "id": f"m-{found.id}",
                  "versionIndex": found.version, "createdAt": node["createdAt"],
                  "aliases": node["aliases"], "artifactCollection": node["artifactSequence"],
                  "artifact": node}  # fmt: skip
    return {"project": {**project, "artifactCollectionMembership": membership}}


def _artifact_by_name(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """wandb 0.27.1 `api.artifact(name)`: `project { artifact(name: "coll:ref") }`
    (sdk/artifacts/_generated/operations.py ArtifactByName); 0.31.0 asks for the membership."""
    data = _membership(s, v)
    membership = data["project"] and data["project"].pop("artifactCollectionMembership")
    if data["project"] is not None:
        data["project"]["artifact"] = membership and membership["artifact"]
    return data


def _created_by(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    art = next((a for a in s.artifacts if a.id == v["id"]), None)
    if art is None:
        return {"artifact": None}
    creator = None
    if art.logged_by:
        project = s.project_node({"entity": art.entity, "project": art.project})
        creator = {"__typename": "Run", "id": f"run-{art.logged_by}", "name": art.logged_by,
                   "project": project}  # fmt: skip
    return {"artifact": {"createdBy": creator}}


def _run_artifacts(
    s: FakeWandbServer, v: Mapping[str, Any], mine: Callable[[FakeArtifact, str], bool]
) -> dict[str, Any]:
    """`project { run(name) { artifacts: outputArtifacts | inputArtifacts (after, first) } }`:
    a page of ArtifactFragment nodes with totalCount and pageInfo (apis/public/artifacts.py
    RunArtifacts reads `data["project"]["run"]["artifacts"]`)."""
    project = s.project_node(v)
    run = s.find_run(v, v["run"]) if project else None
    if project is None or run is None:
        return {"project": project and {**project, "run": None}}
    found = [a for a in s.artifacts if (a.entity, a.project) == (run.entity, run.project)
             and mine(a, run.id)]  # fmt: skip
    from fakes.wandb_server import page_of

    page, start, end, more = page_of(found, v, "cursor", "perPage")
    edges = [{"node": s.artifact_node(a), "cursor": str(start + i + 1)} for i, a in enumerate(page)]
    conn = {"totalCount": len(found), "edges": edges, "pageInfo": {
        "__typename": "PageInfo", "endCursor": end, "hasNextPage": more}}  # fmt: skip
    return {"project": {**project, "run": {"artifacts": conn}}}


def _output_artifacts(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """`run.logged_artifacts()`: RunOutputArtifacts, the artifacts the run logged."""
    return _run_artifacts(s, v, lambda art, run: art.logged_by == run)


def _input_artifacts(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """`run.used_artifacts()` (apis/public/runs.py `Run.used_artifacts` -> RunArtifacts with
    mode="used"): RunInputArtifacts, the artifacts the run declared with `use_artifact`."""
    return _run_artifacts(s, v, lambda art, run: run in art.used_by)


def _project_artifacts(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """`Api.artifacts(type, name)`: the collection's versions, newest first, that match
    `filters` (only `state` is modelled; the client's default is `{"state": "COMMITTED"}`)."""
    project = s.project_node(v)
    if project is None:
        return {"project": None}
    raw = v.get("filters") or {}
    filters = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if set(filters) - {"state"}:
        raise ValueError(f"the fake models only the `state` filter, not {filters}")
    found = [a for a in reversed(s.artifacts) if (a.entity, a.project, a.name, a.type) == (
        v["entity"], v["project"], v["collection"], v["type"]) and filters.get("state") in (
        None, a.state)]  # fmt: skip
    from fakes.wandb_server import page_of

    page, start, end, more = page_of(found, v, "cursor", "perPage")
    edges = [{"version": f"v{a.version}", "node": artifact_node(s, a),
              "cursor": str(start + i + 1)} for i, a in enumerate(page)]  # fmt: skip
    conn = {"totalCount": len(found), "edges": edges, "pageInfo": {
        "__typename": "PageInfo", "endCursor": end, "hasNextPage": more}}  # fmt: skip
    collection = {"__typename": "ArtifactSequence", "artifacts": conn}
    return {"project": {**project, "artifactType": {"artifactCollection": collection}}}


def _add_aliases(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    art = s.find_artifact(v["input"]["artifactID"])
    if art is None:
        raise LookupError(f"no artifact {v['input']['artifactID']!r}")
    for entry in v["input"]["aliases"]:
        target = (entry["entityName"], entry["projectName"], entry["artifactCollectionName"])
        if target != (art.entity, art.project, art.name):
            raise ValueError(f"alias target {target} is not the artifact's collection")
        if entry["alias"] not in s.ignore_aliases:
            s.add_alias(art, entry["alias"])
    return {"result": {"success": True}}


def _update_artifact(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """Only what an alias-only `artifact.save()` sends: metadata (unchanged), no tags/aliases."""
    fields = v["input"]
    art = s.find_artifact(fields["artifactID"])
    if art is None:
        raise LookupError(f"no artifact {fields['artifactID']!r}")
    if fields.get("aliases") or fields.get("tagsToAdd") or fields.get("tagsToDelete"):
        raise ValueError("the fake does not model aliases or tags in UpdateArtifact")
    if fields.get("metadata") is not None:
        art.metadata = json.loads(fields["metadata"])
    return {"result": {"artifact": s.artifact_node(art)}}


ARTIFACT_HANDLERS: dict[str, Callable[[FakeWandbServer, Mapping[str, Any]], dict[str, Any]]] = {
    "ArtifactMembershipByName": _membership,
    "ArtifactByName": _artifact_by_name,
    "ArtifactCreatedBy": _created_by,
    "RunOutputArtifacts": _output_artifacts,
    "RunInputArtifacts": _input_artifacts,
    "ProjectArtifacts": _project_artifacts,
    "AddAliases": _add_aliases,
    "UpdateArtifact": _update_artifact,
}
