"""W&B failures each say what happened (fake follows wandb 0.31.0's wandb-core retries)."""

from __future__ import annotations

import netrc
from pathlib import Path

import pytest
from fakes.wandb_server import FAKE_WANDB_KEY, FakeWandbServer

from mlaction.config import TrackerConfig
from mlaction.errors import ConfigError, PromotionError, TrackerError
from mlaction.trackers.base import RunQuery
from mlaction.trackers.wandb import WandbTracker, create

pytest.importorskip("wandb")

E, P = "acme", "iris"


def tracker(**overrides: object) -> WandbTracker:
    fields: dict[str, object] = {"type": "wandb", "experiment": f"{E}/{P}", "timeout": 10}
    fields.update(overrides)
    return create(TrackerConfig.model_validate(fields))


def failure(server: FakeWandbServer) -> str:
    server.add_run(E, P, id="r")
    with pytest.raises(TrackerError) as caught:
        tracker().search(RunQuery())
    text = str(caught.value)
    assert FAKE_WANDB_KEY not in text
    return text


# -- 4. errors tell the truth -----------------------------------------------------------------
def test_graphql_errors_in_a_200_reply_are_not_unreachable(wandb_server: FakeWandbServer) -> None:
    wandb_server.graphql_errors["Runs"] = "permission denied"
    text = failure(wandb_server)
    assert text.startswith("W&B answered with an error while searching runs in `acme/iris`")
    assert "permission denied" in text
    assert "Could not reach" not in text


def test_rate_limit_after_retries_says_429(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="r")
    gate = tracker()
    assert gate.api is not None  # connect first: the limit hits the search
    wandb_server.fail_all = 429
    with pytest.raises(TrackerError, match=r"W&B rate-limited ml-gate \(HTTP 429\)"):
        gate.search(RunQuery())


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_after_retries_say_5xx(wandb_server: FakeWandbServer, status: int) -> None:
    wandb_server.add_run(E, P, id="r")
    gate = tracker()
    assert gate.api is not None
    wandb_server.fail_all = status
    with pytest.raises(TrackerError, match=rf"W&B server error \(HTTP {status}\)"):
        gate.search(RunQuery())


def test_403_on_a_read_is_no_access_not_a_bad_key(wandb_server: FakeWandbServer) -> None:
    wandb_server.refuse["Runs"] = 403
    text = failure(wandb_server)
    assert "no access to this entity/project" in text
    assert "rejected the API key" not in text


def test_401_is_the_key(wandb_server: FakeWandbServer) -> None:
    wandb_server.api_key = "0" * 40
    assert "W&B rejected the API key (HTTP 401)" in failure(wandb_server)


# -- 5. promotion: reserved aliases, and what holds afterwards ---------------------------------
@pytest.mark.parametrize("alias", ["latest", "v3", "a" * 129, "a/b"])
def test_reserved_or_invalid_aliases_are_refused_before_any_request(
    wandb_server: FakeWandbServer, alias: str
) -> None:
    with pytest.raises(PromotionError, match="cannot be a W&B artifact alias"):
        tracker().set_alias("iris-model", alias, "v1")
    assert wandb_server.requests == 0


def _two_versions(server: FakeWandbServer) -> None:
    server.add_run(E, P, id="old")
    server.add_run(E, P, id="new")
    server.add_artifact(E, P, "iris-model", aliases=["production"], logged_by="old")
    server.add_artifact(E, P, "iris-model", logged_by="new", metadata={"accuracy": 0.93})


def test_alias_moved_but_metadata_update_failed_is_reported_as_moved(
    wandb_server: FakeWandbServer,
) -> None:
    """`artifact.save()` sends AddAliases, then UpdateArtifact: the alias already holds."""
    _two_versions(wandb_server)
    wandb_server.refuse["UpdateArtifact"] = 500
    tracker().set_alias("iris-model", "production", "v1")
    assert [a.aliases for a in wandb_server.artifacts] == [[], ["production"]]


def test_alias_that_does_not_hold_after_success_is_a_failure(
    wandb_server: FakeWandbServer,
) -> None:
    _two_versions(wandb_server)
    wandb_server.ignore_aliases.add("production")  # answered success, alias not kept
    with pytest.raises(PromotionError, match="reading it back the alias is on v0"):
        tracker().set_alias("iris-model", "production", "v1")


# -- 8. credentials and defaults as W&B users have them --------------------------------------
def test_key_from_netrc_for_the_base_url(
    wandb_server: FakeWandbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WANDB_API_KEY")
    host = wandb_server.url.removeprefix("http://")
    rc = tmp_path / "netrc"
    rc.write_text(f"machine other.example login user password {'1' * 40}\n"
                  f"machine {host} login user password {FAKE_WANDB_KEY}\n")  # fmt: skip
    rc.chmod(0o600)
    assert netrc.netrc(str(rc)).authenticators(host) is not None
    monkeypatch.setenv("NETRC", str(rc))
    wandb_server.api_key = FAKE_WANDB_KEY
    wandb_server.add_run(E, P, id="r")
    assert [r.id for r in tracker().search(RunQuery())] == ["r"]


def test_no_key_anywhere_names_both_places(
    wandb_server: FakeWandbServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    with pytest.raises(TrackerError, match="WANDB_API_KEY is not set and no netrc entry"):
        tracker()


def test_bare_project_takes_wandb_entity(
    wandb_server: FakeWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_ENTITY", E)
    assert tracker(experiment=P).path == f"{E}/{P}"
    monkeypatch.delenv("WANDB_ENTITY")
    with pytest.raises(ConfigError, match="WANDB_ENTITY"):
        tracker(experiment=P)


def test_base_url_from_wandb_base_url(wandb_server: FakeWandbServer) -> None:
    assert tracker().base_url == wandb_server.url
