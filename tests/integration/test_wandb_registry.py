"""W&B Registry collections (`<org>/wandb-registry-<name>/<collection>`) with the REAL wandb
client against the fake (tests/fakes/wandb_registry.py): `registry:` checks, `baseline: alias`
and promotion by `Artifact.link`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakes.wandb_registry import add_org, link
from fakes.wandb_server import FAKE_WANDB_KEY, FakeArtifact, FakeWandbServer

from mlaction.cli import main
from mlaction.config import PromoteConfig, TrackerConfig
from mlaction.errors import AliasNotFoundError, PromotionError, TrackerError, UsageError
from mlaction.promote import PromotionResult, promote
from mlaction.trackers.wandb import WandbTracker, create
from mlaction.trackers.wandb.registry import RegistryPath, parse_model

pytest.importorskip("wandb")

E, P = "acme", "iris"
ORG, ORG_ENTITY = "Acme Corp", "acme-corp"  # an org's display name and its entity differ
REG = "wandb-registry-model"
MODEL = f"{REG}/iris-classifier"
IN_RESPONSE = "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE"


def tracker(entity: str = E) -> WandbTracker:
    fields = {"type": "wandb", "experiment": f"{entity}/{P}", "timeout": 10}
    return create(TrackerConfig.model_validate(fields))


def logged(
    server: FakeWandbServer, run: str, name: str = "iris-classifier", **kw: object
) -> FakeArtifact:
    if not any(r.id == run for r in server.runs.get((E, P), [])):
        server.add_run(E, P, id=run)
    return server.add_artifact(E, P, name, logged_by=run, **kw)  # type: ignore[arg-type]


def linked(server: FakeWandbServer, art: FakeArtifact, *aliases: str, coll: str = "iris-classifier",
           registry: str = REG) -> None:  # fmt: skip
    link(server, art, ORG_ENTITY, registry, coll, aliases)


@pytest.fixture
def org(wandb_server: FakeWandbServer) -> FakeWandbServer:
    """Team entity `acme` in org `Acme Corp` (entity `acme-corp`) with its `model` registry;
    run `old` made collection version v0 (`production`, artifact iris-classifier:v1), run `new`
    made v1 (iris-classifier:v2)."""
    add_org(wandb_server, ORG, ORG_ENTITY, teams=(E,), registries=("model", "dataset"))
    logged(wandb_server, "old")  # iris-classifier:v0, never linked: sources differ from links
    linked(wandb_server, logged(wandb_server, "old", metadata={"accuracy": 0.9}), "production")
    linked(wandb_server, logged(wandb_server, "new", metadata={"accuracy": 0.93}))
    return wandb_server


@pytest.mark.parametrize(
    ("model", "parsed"),
    [
        ("iris-model", None),
        (MODEL, RegistryPath(None, REG, "iris-classifier")),
        (f"acme-corp/{MODEL}", RegistryPath("acme-corp", REG, "iris-classifier")),
        (f"{ORG}/wandb-registry-dataset/iris", RegistryPath(ORG, "wandb-registry-dataset", "iris")),
    ],
)  # fmt: skip
def test_which_registry_a_model_means(model: str, parsed: RegistryPath | None) -> None:
    assert parse_model(model) == parsed


@pytest.mark.parametrize(
    "model",
    ["acme/iris/iris-model", "iris/iris-model", "iris-model:v3", f"{MODEL}:champion", REG,
     "wandb-registry-/iris", "acme/model-registry/iris", f"a/b/{MODEL}"],
)  # fmt: skip
def test_anything_else_is_refused_before_asking_wandb(
    wandb_server: FakeWandbServer, model: str
) -> None:
    with pytest.raises(UsageError, match="is not a W&B model") as caught:
        tracker().resolve_alias(model, "champion")
    assert "wandb-registry-model/iris-classifier" in str(caught.value)
    assert wandb_server.requests == 0


@pytest.mark.parametrize("prefix", ["", f"{ORG}/", f"{ORG_ENTITY}/"])
def test_baseline_alias_resolves_the_collection_and_the_source_run(
    org: FakeWandbServer, prefix: str
) -> None:
    ref = tracker().resolve_alias(prefix + MODEL, "production")
    assert (ref.model, ref.version, ref.run_id) == (prefix + MODEL, "v0", "old")
    assert ref.aliases == ("production",)
    assert ref.tags == (("accuracy", "0.9"),)
    latest = tracker().resolve_alias(prefix + MODEL, "latest")
    assert (latest.version, latest.run_id, latest.aliases) == ("v1", "new", ("latest",))
    assert "FetchOrgInfoFromEntity" in org.operations


def test_missing_alias_names_the_collection(org: FakeWandbServer) -> None:
    with pytest.raises(AliasNotFoundError) as caught:
        tracker().resolve_alias(MODEL, "champion")
    assert f"no version of W&B Registry collection `{MODEL}` has alias `champion`" in str(
        caught.value
    )
    assert f"artifact.link('{MODEL}', aliases=['champion'])" in str(caught.value)


def test_a_personal_entity_in_two_orgs_needs_the_org_in_the_path(
    wandb_server: FakeWandbServer,
) -> None:
    add_org(wandb_server, ORG, ORG_ENTITY, users=("ana",))
    add_org(wandb_server, "Other", "other-org", users=("ana",))
    wandb_server.add_project("ana", P)
    with pytest.raises(TrackerError) as caught:
        tracker("ana").resolve_alias(MODEL, "production")
    text = str(caught.value)
    assert f"cannot tell which W&B organization `{MODEL}` is in for entity `ana`" in text
    assert "belongs to multiple organizations" in text  # wandb's own reason
    assert "Name the organization in the path" in text
    with pytest.raises(AliasNotFoundError):  # with the org, it resolves
        tracker("ana").resolve_alias(f"{ORG}/{MODEL}", "production")


def test_a_version_from_another_project_is_named(org: FakeWandbServer) -> None:
    org.add_run(E, "other", id="elsewhere")
    art = org.add_artifact(E, "other", "iris-classifier", logged_by="elsewhere")
    linked(org, art, "champion")
    with pytest.raises(TrackerError, match="in W&B project `acme/other`, not in `acme/iris`"):
        tracker().resolve_alias(MODEL, "champion")


def test_model_versions_are_the_runs_links_into_that_collection(org: FakeWandbServer) -> None:
    first = logged(org, "r", metadata={"framework": "sklearn"})
    second = logged(org, "r", name="iris-small", metadata={"framework": "onnx"})
    second.tags = ["validated", "framework"]  # W&B tags; a metadata key of the same name wins
    linked(org, first)  # collection v2
    linked(org, second, "staging")  # collection v3: another artifact name, same collection
    linked(org, first, coll="other-task")  # another collection
    linked(org, first, registry="wandb-registry-dataset")  # same name, another registry
    logged(org, "r", name="iris-data", type="dataset")  # not linked anywhere
    versions = tracker().model_versions(MODEL, "r")
    assert [(v.version, v.run_id, v.aliases) for v in versions] == [
        ("v3", "r", ("staging", "latest")),
        ("v2", "r", ()),
    ]
    assert versions[0].tags == (("framework", "onnx"), ("validated", "true"))
    assert tracker().model_versions(MODEL, "new")[0].version == "v1"
    assert tracker().model_versions(f"{REG}/nothing-here", "r") == []


def _promote(model: str = MODEL, alias: str = "production", run: str = "new") -> PromotionResult:
    config = PromoteConfig(model=model, alias=alias)
    return promote(config, tracker(), tracker().get_run(run), dry_run=False)


@pytest.mark.parametrize("features", [set(), {IN_RESPONSE}])
def test_promotion_links_the_candidates_version_with_the_alias(
    org: FakeWandbServer, features: set[str]
) -> None:
    org.registry.features.update(features)  # both of `Artifact.link`'s answers
    org.operations.clear()
    result = _promote()
    assert (result.action, result.version, result.previous) == ("promoted", "v1", "v0")
    assert "LinkArtifact" in org.operations
    assert [(x.version, x.aliases) for x in org.registry.links] == [(0, []), (1, ["production"])]
    after = tracker().resolve_alias(MODEL, "production")
    assert (after.version, after.run_id) == ("v1", "new")
    again = _promote()
    assert again.action == "already"


def test_promotion_links_a_candidate_not_in_the_registry_yet(org: FakeWandbServer) -> None:
    logged(org, "cand", name="iris-classifier", metadata={"accuracy": 0.95})
    logged(org, "cand", name="iris-data", type="dataset")
    result = _promote(run="cand")
    assert result.action == "promoted"
    assert result.version == "acme/iris/iris-classifier:v3"
    assert result.previous == "v0"
    after = tracker().resolve_alias(MODEL, "production")
    assert (after.version, after.run_id) == ("v2", "cand")
    assert [v.version for v in tracker().model_versions(MODEL, "cand")] == ["v2"]
    # a new collection: its first version links the candidate's `fresh:v0`
    logged(org, "cand", name="fresh")
    first = _promote(model=f"{REG}/fresh", run="cand")
    assert (first.action, first.version, first.previous) == ("promoted", "acme/iris/fresh:v0", None)
    assert tracker().resolve_alias(f"{REG}/fresh", "production").version == "v0"


def test_promotion_without_a_model_says_how_to_log_it(org: FakeWandbServer) -> None:
    logged(org, "cand", name="something-else")
    with pytest.raises(PromotionError, match="has no version of model"):
        _promote(run="cand")
    assert "LinkArtifact" not in org.operations


def test_an_alias_the_server_did_not_keep_is_reported_not_claimed(org: FakeWandbServer) -> None:
    org.ignore_aliases.add("production")  # answered success, not kept (e.g. protected)
    with pytest.raises(PromotionError) as caught:
        _promote()
    text = str(caught.value)
    assert "W&B accepted linking alias `production` of W&B Registry collection" in text
    assert "reading it back the alias is on v0, which links another artifact" in text
    assert "protected alias" in text


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_link_is_a_promotion_error_without_the_key(
    org: FakeWandbServer, status: int
) -> None:
    org.refuse["LinkArtifact"] = status
    started = time.monotonic()
    with pytest.raises(PromotionError) as caught:
        _promote()
    text = str(caught.value)
    assert f"W&B refused (HTTP {status}) to move alias `production`" in text
    assert "Member or Admin role in that registry" in text
    assert FAKE_WANDB_KEY not in text
    assert [x.aliases for x in org.registry.links] == [["production"], []]
    assert time.monotonic() - started < 25


def test_the_gate_checks_and_promotes_on_the_registry(
    org: FakeWandbServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ml-gate check --promote`: registry checks, alias baseline and promotion by linking."""
    sha = "c" * 40
    cand = org.add_run(E, P, id="cand", commit=sha, summary={"accuracy": 0.95})
    org.runs[(E, P)][0].summary["accuracy"] = 0.9  # `old`, behind `production`
    linked(org, logged(org, cand.id, metadata={"dataset": "iris-v2"}))
    config = tmp_path / "gate.yml"
    config.write_text(
        f"tracker: {{type: wandb, uri: {org.url}, experiment: {E}/{P}, timeout: 10s}}\n"
        f"baseline: {{select: alias, model: '{ORG}/{MODEL}', alias: production}}\n"
        "metrics:\n  accuracy: {min: 0.8, max_regression: 0.01}\n"
        f"registry: {{model: '{MODEL}', version_tags: [dataset], require_alias: production}}\n"
        f"promote: {{model: '{MODEL}', alias: production}}\n"
    )
    code = main(
        ["check", "--config", str(config), "--commit", sha, "--promote", "--branch", "main"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "registry.version" in out
    assert "registry.version_tags" in out
    assert [x.aliases for x in org.registry.links] == [[], [], ["production"]]
