"""The fake W&B's Registry: organizations, `wandb-registry-<name>` collections and links.

Follows wandb 0.31.0 (and the 0.27.1 floor), each operation as the client sends it
(wandb/sdk/artifacts/_generated/operations.py):
- `FetchOrgInfoFromEntity`: the org of an entity, as `_gqlutils._resolve_org_info` reads it: a
  team entity has one `organization`, a personal entity `user.organizations` (any number).
- `LinkArtifact` (`Artifact.link`): `linkArtifact(input: {artifactID, artifactPortfolioName,
  entityName (the org entity), projectName (wandb-registry-<name>), aliases})` answers the
  collection's `versionIndex`, and the membership when the client asks for it (servers with
  ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE).
- `FetchLinkedArtifacts` (`Artifact.linked_artifacts`): an artifact's memberships; its own
  sequence is one (`ArtifactSequence`), each registry collection another (`ArtifactPortfolio`).
- `ArtifactMembershipByName` on a registry project (`Api.artifact("<org>/wandb-registry-model/
  <collection>:<alias>")`): the membership (the collection's version and aliases) around the
  SOURCE artifact (wandb PR #11090: the version is the membership's, not the source's).
Behaviour from W&B's docs (docs.wandb.ai/models/registry/aliases, link_version): the first link
is v0, each link the next version, `latest` is on the newest link, a custom alias is on one
version of a collection at a time, and aliases are not shared between collections. Linking an
artifact that is already in the collection adds the aliases to its existing version (not
documented; the fake's assumption, so ml-gate checks what holds by reading it back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakes.wandb_server import FakeArtifact, FakeWandbServer

REGISTRY_PREFIX = "wandb-registry-"  # wandb 0.31.0 sdk/artifacts/_validators.py
_CREATED = "2024-01-01T00:00:00"  # W&B's naive UTC timestamps
_IN_RESPONSE = "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE"  # wandb_internal.proto ServerFeature


@dataclass
class FakeLink:
    """One version of a registry collection: a pointer to a logged (source) artifact."""

    artifact_id: str
    entity: str  # the org entity
    project: str  # wandb-registry-<name>
    collection: str
    version: int
    aliases: list[str] = field(default_factory=list)


@dataclass
class FakeRegistry:
    # entity -> [(org display name, org entity name)]; team entities have exactly one org
    orgs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    teams: set[str] = field(default_factory=set)
    links: list[FakeLink] = field(default_factory=list)
    # server features the client may ask for (ServerFeaturesQuery); none by default, as an
    # older server, so `Artifact.link` takes its re-fetch path
    features: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.orgs.clear()
        self.teams.clear()
        self.links.clear()
        self.features.clear()

    def collection(self, entity: str, project: str, name: str) -> list[FakeLink]:
        key = (entity, project, name)
        return [x for x in self.links if (x.entity, x.project, x.collection) == key]


def add_org(
    s: FakeWandbServer, name: str, org_entity: str, *, teams: tuple[str, ...] = (),
    users: tuple[str, ...] = (), registries: tuple[str, ...] = ("model",),
) -> None:  # fmt: skip
    """An organization, its team entities and member users, and its registries."""
    for team in teams:
        s.registry.orgs[team] = [(name, org_entity)]
        s.registry.teams.add(team)
    for user in users:
        s.registry.orgs.setdefault(user, []).append((name, org_entity))
    for registry in registries:
        s.add_project(org_entity, REGISTRY_PREFIX + registry)


def link(s: FakeWandbServer, art: FakeArtifact, entity: str, project: str, collection: str,
         aliases: tuple[str, ...] | list[str] = ()) -> FakeLink:  # fmt: skip
    """Link `art` into a collection (as the `LinkArtifact` mutation does)."""
    if (entity, project) not in s.runs or not project.startswith(REGISTRY_PREFIX):
        raise LookupError(f"no registry {entity}/{project}")
    versions = s.registry.collection(entity, project, collection)
    found = next((x for x in versions if x.artifact_id == art.id), None)
    if found is None:
        found = FakeLink(art.id, entity, project, collection, len(versions))
        s.registry.links.append(found)
    for alias in dict.fromkeys(aliases):
        if alias in s.ignore_aliases:
            continue
        for other in versions:
            other.aliases = [a for a in other.aliases if a != alias]
        found.aliases.append(alias)
    return found


def _portfolio(s: FakeWandbServer, x: FakeLink) -> dict[str, Any]:
    project = s.project_node({"entity": x.entity, "project": x.project})
    return {"__typename": "ArtifactPortfolio", "id": f"portfolio-{x.collection}",
            "name": x.collection, "project": project}  # fmt: skip


def _aliases(s: FakeWandbServer, x: FakeLink) -> list[dict[str, Any]]:
    newest = max(v.version for v in s.registry.collection(x.entity, x.project, x.collection))
    names = [*x.aliases, *(["latest"] if x.version == newest else []), f"v{x.version}"]
    return [{"__typename": "ArtifactAlias", "id": f"{x.artifact_id}-{x.collection}-{a}",
             "alias": a} for a in names]  # fmt: skip


def link_aliases(s: FakeWandbServer, art: FakeArtifact) -> list[dict[str, Any]]:
    """An artifact's aliases in the collections it is linked into: `Artifact.aliases` spans
    every collection, each alias with its collection (wandb PR #5810; the 0.27.1 client reads
    them from `project.artifact(name)` and keeps those of the collection it asked for)."""
    links = [x for x in s.registry.links if x.artifact_id == art.id]
    return [{**a, "artifactCollection": _portfolio(s, x)} for x in links for a in _aliases(s, x)]


def membership(s: FakeWandbServer, x: FakeLink) -> dict[str, Any]:
    art = s.find_artifact(x.artifact_id)
    assert art is not None
    node = s.artifact_node(art)
    return {"__typename": "ArtifactCollectionMembership", "id": f"m-{x.artifact_id}-{x.version}",
            "versionIndex": x.version, "createdAt": node["createdAt"],
            "aliases": _aliases(s, x), "artifactCollection": _portfolio(s, x),
            "artifact": node}  # fmt: skip


def registry_membership(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """`ArtifactMembershipByName` on `<org entity>/wandb-registry-<name>`."""
    project = s.project_node(v)
    if project is None:
        return {"project": None}
    name, _, ref = str(v["name"]).partition(":")
    versions = s.registry.collection(str(v["entity"]), str(v["project"]), name)
    found = next((x for x in versions if ref in {a["alias"] for a in _aliases(s, x)}), None)
    return {"project": {**project, "artifactCollectionMembership": found and membership(s, found)}}


def _org_info(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    entity = str(v["entity"])
    orgs = [{"name": name, "orgEntity": {"name": org_entity}}
            for name, org_entity in s.registry.orgs.get(entity, [])]  # fmt: skip
    if entity not in s.registry.orgs:
        return {"entity": None}
    if entity in s.registry.teams:
        return {"entity": {"organization": orgs[0], "user": None}}
    return {"entity": {"organization": None, "user": {"organizations": orgs}}}


def _link_artifact(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    fields = v["input"]
    art = s.find_artifact(fields["artifactID"])
    if art is None:
        raise LookupError(f"no artifact {fields['artifactID']!r}")
    collection = fields["artifactPortfolioName"]
    aliases = [a["alias"] for a in fields.get("aliases") or []]
    if any(a["artifactCollectionName"] != collection for a in fields.get("aliases") or []):
        raise ValueError("an alias names another collection")
    found = link(s, art, fields["entityName"], fields["projectName"], collection, aliases)
    result: dict[str, Any] = {"versionIndex": found.version}
    if _IN_RESPONSE in s.registry.features:  # the client asks for it only then
        result["artifactMembership"] = membership(s, found)
    return {"result": result}


def _linked_artifacts(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    art = s.find_artifact(v["artifactID"])
    if art is None:
        return {"artifact": None}
    project = s.project_node({"entity": art.entity, "project": art.project})
    own = {"versionIndex": art.version, "createdAt": _CREATED, "aliases": [],
           "artifactCollection": {"__typename": "ArtifactSequence", "name": art.name,
                                  "project": project}}  # fmt: skip
    nodes = [own] + [
        {"versionIndex": x.version, "createdAt": _CREATED, "aliases": _aliases(s, x),
         "artifactCollection": _portfolio(s, x)}
        for x in s.registry.links if x.artifact_id == art.id
    ]  # fmt: skip
    return {"artifact": {"artifactMemberships": {"edges": [{"node": n} for n in nodes]}}}


def _server_features(s: FakeWandbServer, v: Mapping[str, Any]) -> dict[str, Any]:
    """wandb-core's `ServerFeaturesQuery` (sdk/internal/_generated/operations.py)."""
    features = [{"name": name, "isEnabled": True} for name in sorted(s.registry.features)]
    return {"serverInfo": {"features": features}}


REGISTRY_HANDLERS: dict[str, Callable[[FakeWandbServer, Mapping[str, Any]], dict[str, Any]]] = {
    "ServerFeaturesQuery": _server_features,
    "FetchOrgInfoFromEntity": _org_info,
    "LinkArtifact": _link_artifact,
    "FetchLinkedArtifacts": _linked_artifacts,
}
