"""W&B artifact states (PENDING, COMMITTED, DELETED) with the REAL wandb client against the
fake: only a committed version is a required artifact, a model version, an alias's target or
a promotion's target (mlaction/trackers/wandb/artifacts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.wandb_registry import add_org, link
from fakes.wandb_server import FakeWandbServer

from mlaction.cli import main
from mlaction.config import PromoteConfig, TrackerConfig
from mlaction.errors import AliasNotFoundError, PromotionError, TrackerError
from mlaction.promote import promote
from mlaction.trackers.wandb import WandbTracker, create

pytest.importorskip("wandb")

E, P = "acme", "iris"
ORG, ORG_ENTITY = "Acme Corp", "acme-corp"
REG = "wandb-registry-model"
MODEL = f"{REG}/iris-classifier"
NOT_COMMITTED = "not committed (state PENDING: its upload did not finish)"


def tracker() -> WandbTracker:
    fields = {"type": "wandb", "experiment": f"{E}/{P}", "timeout": 10}
    return create(TrackerConfig.model_validate(fields))


def test_the_fake_filters_states_where_the_client_asks_it_to(
    wandb_server: FakeWandbServer,
) -> None:
    """`Api.artifacts` sends `{"state": "COMMITTED"}`; `Run.logged_artifacts()` no filter, and
    wandb 0.31.0 cannot convert a PENDING node (`Artifact._from_attrs` asserts its id)."""
    wandb_server.add_run(E, P, id="r")
    for state in ("COMMITTED", "DELETED", "PENDING"):
        wandb_server.add_artifact(E, P, "iris-model", logged_by="r", state=state)
    api = tracker().api  # a `wandb.Api` with the fake's URL, entity and project
    listed = api.artifacts("model", f"{E}/{P}/iris-model")
    assert [(a.version, a.state) for a in listed] == [("v0", "COMMITTED")]
    logged = iter(api.run(f"{E}/{P}/r").logged_artifacts(per_page=2))
    assert [next(logged).state for _ in range(2)] == ["COMMITTED", "DELETED"]
    with pytest.raises(AssertionError):
        next(logged)


@pytest.mark.parametrize("state", ["PENDING", "DELETED"])
def test_an_uncommitted_artifact_is_not_a_required_artifact(
    wandb_server: FakeWandbServer, state: str
) -> None:
    wandb_server.add_run(E, P, id="r")
    wandb_server.add_artifact(E, P, "iris-model", logged_by="r", state=state)
    wandb_server.add_artifact(E, P, "report", logged_by="r")  # v0 committed, v1 not
    wandb_server.add_artifact(E, P, "report", logged_by="r", state=state)
    assert tracker().existing_artifacts("r", ["iris-model", "report"]) == {"report"}


def test_the_gate_fails_a_required_artifact_that_is_pending(
    wandb_server: FakeWandbServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = "c" * 40
    wandb_server.add_run(E, P, id="cand", commit=sha, summary={"accuracy": 0.95})
    wandb_server.add_artifact(E, P, "iris-model", logged_by="cand", state="PENDING")
    config = tmp_path / "gate.yml"
    config.write_text(
        f"tracker: {{type: wandb, uri: {wandb_server.url}, experiment: {E}/{P}, timeout: 10s}}\n"
        "baseline: {select: none}\nmetrics:\n  accuracy: {min: 0.8}\n"
        "run: {required_artifacts: [iris-model]}\n"
    )
    code = main(["check", "--config", str(config), "--commit", sha, "--debug"])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert "missing artifact: `iris-model`" in captured.out
    assert f"`iris-model:v0` of run `cand` is {NOT_COMMITTED}" in captured.err
    assert "Could not reach W&B" not in captured.out


def _project(server: FakeWandbServer) -> None:
    """Run `new` logged iris-model v0 (committed), v1 (PENDING, `latest`) and v2 (DELETED, with
    `candidate`: the fake lets a deleted version keep an alias, W&B would not)."""
    server.add_run(E, P, id="new")
    server.add_artifact(E, P, "iris-model", logged_by="new")
    server.add_artifact(E, P, "iris-model", logged_by="new", aliases=["latest"], state="PENDING")
    server.add_artifact(E, P, "iris-model", logged_by="new", aliases=["candidate"],
                        state="DELETED")  # fmt: skip


def test_uncommitted_versions_are_no_model_versions_and_are_not_promoted(
    wandb_server: FakeWandbServer,
) -> None:
    _project(wandb_server)
    assert [v.version for v in tracker().model_versions("iris-model", "new")] == ["v0"]
    config = PromoteConfig(model="iris-model", alias="production")
    result = promote(config, tracker(), tracker().get_run("new"), dry_run=False)
    assert (result.action, result.version) == ("promoted", "v0")
    assert [a.aliases for a in wandb_server.artifacts] == [
        ["production"],
        ["latest"],
        ["candidate"],
    ]


@pytest.mark.parametrize(("version", "why"), [("v1", "no version v1"), ("v2", "not committed")])
def test_pointing_an_alias_at_an_uncommitted_version_is_refused(
    wandb_server: FakeWandbServer, version: str, why: str
) -> None:
    """wandb 0.31.0 cannot read PENDING v1 (no such version); DELETED v2 is read, and refused."""
    _project(wandb_server)
    with pytest.raises(PromotionError, match=why):
        tracker().set_alias("iris-model", "production", version)
    assert "AddAliases" not in wandb_server.operations
    assert [a.aliases for a in wandb_server.artifacts] == [[], ["latest"], ["candidate"]]


def test_an_alias_on_an_uncommitted_version_resolves_to_nothing(
    wandb_server: FakeWandbServer,
) -> None:
    _project(wandb_server)
    with pytest.raises(AliasNotFoundError):  # PENDING: wandb 0.31.0 cannot read it
        tracker().resolve_alias("iris-model", "latest")
    with pytest.raises(AliasNotFoundError) as caught:
        tracker().resolve_alias("iris-model", "candidate")
    assert f"alias `candidate` of `iris-model` in W&B project `{E}/{P}`" in str(caught.value)
    assert "is on version v2, which is not committed (state DELETED: it was deleted)" in str(
        caught.value
    )


@pytest.fixture
def org(wandb_server: FakeWandbServer) -> FakeWandbServer:
    """Collection v0 links run `old`'s committed artifact (`production`), v1 run `new`'s
    PENDING one (`champion`), v2 run `gone`'s DELETED one (`retired`, kept by the fake); run
    `cand` logged a PENDING `iris-classifier`, not linked."""
    add_org(wandb_server, ORG, ORG_ENTITY, teams=(E,))
    for run in ("old", "new", "gone", "cand"):
        wandb_server.add_run(E, P, id=run)
    for run, state, alias in [("old", "COMMITTED", "production"), ("new", "PENDING", "champion"),
                              ("gone", "DELETED", "retired")]:  # fmt: skip
        art = wandb_server.add_artifact(E, P, "iris-classifier", logged_by=run, state=state)
        link(wandb_server, art, ORG_ENTITY, REG, "iris-classifier", [alias])
    wandb_server.add_artifact(E, P, "iris-classifier", logged_by="cand", state="PENDING")
    return wandb_server


def test_a_registry_link_to_an_uncommitted_artifact_is_no_model_version(
    org: FakeWandbServer,
) -> None:
    assert tracker().model_versions(MODEL, "new") == []
    assert tracker().model_versions(MODEL, "gone") == []
    assert tracker().promotion_versions(MODEL, "cand") == []
    assert [v.version for v in tracker().model_versions(MODEL, "old")] == ["v0"]


def test_an_uncommitted_artifact_is_not_linked_into_the_registry(org: FakeWandbServer) -> None:
    with pytest.raises(PromotionError, match=r"`acme-corp/.*:v2` is not committed"):
        tracker().set_alias(MODEL, "production", "v2")  # DELETED
    with pytest.raises(PromotionError, match="no W&B artifact `acme/iris/iris-classifier:v3`"):
        tracker().set_alias(MODEL, "production", f"{E}/{P}/iris-classifier:v3")  # PENDING
    assert "LinkArtifact" not in org.operations
    assert [x.aliases for x in org.registry.links] == [["production"], ["champion"], ["retired"]]


def test_a_registry_alias_on_an_uncommitted_artifact_resolves_to_nothing(
    org: FakeWandbServer,
) -> None:
    with pytest.raises(AliasNotFoundError):  # PENDING: wandb 0.31.0 cannot read it
        tracker().resolve_alias(MODEL, "champion")
    with pytest.raises(AliasNotFoundError, match=f"`retired` of W&B Registry collection `{MODEL}`"):
        tracker().resolve_alias(MODEL, "retired")
    assert tracker().resolve_alias(MODEL, "production").run_id == "old"


def test_used_artifacts_count_in_any_state_the_client_can_read(
    wandb_server: FakeWandbServer,
) -> None:
    """The decision in `artifacts.used`: a DELETED input is still the content the run read; a
    PENDING one (wandb 0.31.0 cannot read it) stops the comparison with its name."""
    wandb_server.add_run(E, P, id="r")
    data = wandb_server.add_artifact(E, P, "eval-set", type="dataset", state="DELETED")
    data.used_by.append("r")
    assert [d.name for d in tracker().used_datasets("r")] == ["eval-set"]
    wandb_server.add_artifact(E, P, "holdout", type="dataset", state="PENDING").used_by.append("r")
    with pytest.raises(TrackerError) as caught:
        tracker().used_datasets("r")
    assert caught.value.message == (
        "run `r` used W&B artifact `holdout:v0`, which is not committed (state PENDING: its "
        "upload did not finish): its inputs cannot be compared (`comparable.inputs`)."
    )
