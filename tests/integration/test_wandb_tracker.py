"""The W&B tracker with the REAL wandb client (and its wandb-core process) against the fake."""

from __future__ import annotations

import importlib.metadata
import json
import math
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fakes.wandb_server import FAKE_WANDB_KEY, FakeWandbServer

from mlaction.config import TrackerConfig
from mlaction.errors import (
    AliasNotFoundError,
    ConfigError,
    PromotionError,
    RunNotFoundError,
    TrackerError,
)
from mlaction.runs import Run
from mlaction.trackers import build_tracker
from mlaction.trackers.base import MetricBound, RunQuery, Tracker
from mlaction.trackers.wandb import WandbTracker, create

pytest.importorskip("wandb")
# What `api.artifact(name)` sends: wandb 0.31.0 asks for the collection membership, the floor
# (0.27.1) for `project.artifact` (see tests/fakes/wandb_server.py).
OLD_CLIENT = tuple(int(p) for p in importlib.metadata.version("wandb").split(".")[:2]) < (0, 31)
BY_NAME = "ArtifactByName" if OLD_CLIENT else "ArtifactMembershipByName"
FEATURES = [] if OLD_CLIENT else ["ServerFeaturesQuery"]

E, P = "acme", "iris"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def tracker(**overrides: object) -> WandbTracker:
    fields: dict[str, object] = {"type": "wandb", "experiment": f"{E}/{P}", "timeout": 10}
    fields.update(overrides)
    return create(TrackerConfig.model_validate(fields))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ids(runs: list[Run]) -> list[str]:
    return [run.id for run in runs]


def test_build_tracker_returns_a_wandb_tracker(wandb_server: FakeWandbServer) -> None:
    built = build_tracker(TrackerConfig(type="wandb", experiment=f"{E}/{P}"))
    assert isinstance(built, Tracker)
    assert built.describe() == f"W&B project `{E}/{P}` at {wandb_server.url}"


def test_search_by_commit_reads_git_metadata_and_config(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="a1", commit="abc", state="running", created_at=at(1))
    wandb_server.add_run(E, P, id="a2", config={"git_commit": "abc"}, created_at=at(2))
    wandb_server.add_run(E, P, id="b1", commit="def", created_at=at(3))
    runs = tracker().search(RunQuery(limit=10, commits=("abc",), finished_only=False))
    assert ids(runs) == ["a2", "a1"]
    assert [r.commit for r in runs] == ["abc", "abc"]


def test_latest_is_finished_only_and_newest_first(wandb_server: FakeWandbServer) -> None:
    for i, state in enumerate(["finished", "finished", "running", "crashed"]):
        wandb_server.add_run(E, P, id=f"r{i}", state=state, created_at=at(i))
    assert ids(tracker().search(RunQuery(limit=5))) == ["r1", "r0"]
    assert ids(tracker().search(RunQuery(limit=5, finished_only=False))) == ["r3", "r2", "r1", "r0"]


@pytest.mark.parametrize(
    ("descending", "expected"), [(True, ["hi", "mid"]), (False, ["lo", "mid"])]
)
def test_best_by_metric_both_goals(
    wandb_server: FakeWandbServer, descending: bool, expected: list[str]
) -> None:
    wandb_server.add_run(E, P, id="none", summary={"loss": 1.0}, created_at=at(0))
    for i, (run_id, acc) in enumerate([("mid", 0.8), ("hi", 0.9), ("lo", 0.7)]):
        wandb_server.add_run(E, P, id=run_id, summary={"accuracy": acc}, created_at=at(i + 1))
    query = RunQuery(limit=2, order_by="accuracy", descending=descending)
    assert ids(tracker().search(query)) == expected


def test_bound_filter_is_server_side(wandb_server: FakeWandbServer) -> None:
    for i, acc in enumerate([0.7, 0.8, 0.85, 0.95]):
        wandb_server.add_run(E, P, id=f"r{i}", summary={"accuracy": acc}, created_at=at(i))
    query = RunQuery(limit=10, bound=MetricBound("accuracy", ">", 0.8))
    assert ids(tracker().search(query)) == ["r3", "r2"]
    query = RunQuery(limit=10, bound=MetricBound("accuracy", "<=", 0.8))
    assert ids(tracker().search(query)) == ["r1", "r0"]


def test_branch_filter_default_and_custom_key(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="m", config={"git_branch": "main"}, created_at=at(0))
    wandb_server.add_run(E, P, id="f", config={"git_branch": "feature"}, created_at=at(1))
    wandb_server.add_run(E, P, id="c", config={"branch": "main"}, created_at=at(2))
    main = tracker().search(RunQuery(limit=5, branch="main"))
    assert ids(main) == ["m"]
    assert main[0].branch == "main"
    assert ids(tracker(branch_tag="branch").search(RunQuery(limit=5, branch="main"))) == ["c"]


def test_extra_filter_is_merged_and_must_be_a_json_object(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="v1", config={"dataset": "v1"}, created_at=at(0))
    wandb_server.add_run(E, P, id="v2", config={"dataset": "v2"}, created_at=at(1))
    query = RunQuery(limit=5, extra_filter='{"config.dataset": "v1"}')
    assert ids(tracker().search(query)) == ["v1"]
    with pytest.raises(ConfigError, match="JSON object"):
        tracker().search(RunQuery(extra_filter="dataset = 'v1'"))


def test_get_run_maps_every_field(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(
        E, P, id="x1", name="brave-fox-1", state="crashed", created_at=T0, runtime=90,
        config={"git_commit": "c0ffee", "git_branch": "main", "lr": 0.1, "layers": [1, 2],
                "_private": 1, "flag": True},
        summary={"accuracy": 0.91, "epoch": 3, "note": "text", "ok": True,
                 "img": {"_type": "image-file", "path": "a.png"}, "_wandb": {"runtime": 95}},
        tags=["nightly", "gpu"],
    )  # fmt: skip
    run = tracker().get_run("x1")
    assert (run.id, run.name, run.status) == ("x1", "brave-fox-1", "failed")
    assert run.url is not None
    assert run.url.endswith(f"/{E}/{P}/runs/x1")
    assert (run.commit, run.branch) == ("c0ffee", "main")
    assert run.start == T0
    assert run.end == T0 + timedelta(seconds=90)
    assert run.duration_seconds == 95
    assert run.metrics == {"accuracy": 0.91, "epoch": 3.0}
    assert run.params == {"git_commit": "c0ffee", "git_branch": "main", "lr": "0.1",
                          "layers": "[1, 2]", "flag": "True"}  # fmt: skip
    assert run.tags == {"nightly": "true", "gpu": "true"}


def test_missing_run_is_run_not_found(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="exists")
    with pytest.raises(RunNotFoundError, match=r"no run `nope` in W&B project `acme/iris`"):
        tracker().get_run("nope")


def test_rejected_key_says_so_without_the_key(wandb_server: FakeWandbServer) -> None:
    wandb_server.api_key = "0" * 40
    with pytest.raises(TrackerError) as caught:
        tracker().search(RunQuery())
    text = str(caught.value)
    assert "W&B rejected the API key (HTTP 401)" in text
    assert "WANDB_API_KEY" in text
    assert FAKE_WANDB_KEY not in text


def test_missing_key_names_the_variable(
    wandb_server: FakeWandbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_API_KEY")
    with pytest.raises(TrackerError, match="WANDB_API_KEY is not set") as caught:
        tracker()
    assert "secrets.WANDB_API_KEY" in str(caught.value)
    assert wandb_server.requests == 0


def test_experiment_must_be_entity_slash_project(wandb_server: FakeWandbServer) -> None:
    with pytest.raises(ConfigError, match="`entity/project`"):
        tracker(experiment="iris")


def test_unknown_project_is_named(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="r")
    with pytest.raises(TrackerError, match=r"W&B project `acme/nope` was not found"):
        tracker(experiment=f"{E}/nope").search(RunQuery())


def test_dead_server_fails_fast_naming_the_url(wandb_server: FakeWandbServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(TrackerError, match=f"Could not reach W&B at {url}"):
        tracker(uri=url, timeout=30).search(RunQuery())
    assert time.monotonic() - started < 20


def test_hung_server_is_bounded_by_the_timeout(wandb_server: FakeWandbServer) -> None:
    wandb_server.delay = 15
    started = time.monotonic()
    with pytest.raises(TrackerError, match="no answer within 2s"):
        tracker(timeout=2).search(RunQuery())
    # wandb 0.31.0 gives up within the timeout; the floor (0.27.1) retries once more (~17s)
    assert time.monotonic() - started < 25


def test_resolve_alias_follows_the_moved_alias(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="old")
    wandb_server.add_run(E, P, id="new")
    wandb_server.add_artifact(E, P, "iris-model", aliases=["champion"], logged_by="old")
    wandb_server.add_artifact(
        E, P, "iris-model", aliases=["champion", "latest"], logged_by="new",
        metadata={"accuracy": 0.93, "framework": "sklearn"},
    )  # fmt: skip
    ref = tracker().resolve_alias("iris-model", "champion")
    assert (ref.model, ref.version, ref.run_id) == ("iris-model", "v1", "new")
    assert set(ref.aliases) == {"champion", "latest"}
    assert ref.tags == (("accuracy", "0.93"), ("framework", "sklearn"))


def test_missing_alias_says_which_and_how_to_fix(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_artifact(E, P, "iris-model", aliases=["latest"])
    with pytest.raises(AliasNotFoundError) as caught:
        tracker().resolve_alias("iris-model", "champion")
    assert "no `iris-model` artifact with alias `champion`" in str(caught.value)
    assert "aliases=['champion']" in str(caught.value)


def test_missing_model_alias_is_alias_not_found(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_project(E, P)
    with pytest.raises(AliasNotFoundError, match="no `iris-model` artifact with alias `prod`"):
        tracker().resolve_alias("iris-model", "prod")


def _two_versions(server: FakeWandbServer) -> None:
    """iris-model v0 (logged by `old`, `production`) and v1 (logged by `new`)."""
    server.add_run(E, P, id="old")
    server.add_run(E, P, id="new")
    server.add_artifact(E, P, "iris-model", aliases=["production"], logged_by="old",
                        metadata={"accuracy": 0.9})  # fmt: skip
    server.add_artifact(E, P, "iris-model", aliases=["latest"], logged_by="new",
                        metadata={"accuracy": 0.93, "validated": True})  # fmt: skip


def test_model_versions_lists_the_runs_versions_newest_first(
    wandb_server: FakeWandbServer,
) -> None:
    wandb_server.add_run(E, P, id="r")
    wandb_server.add_run(E, P, id="other")
    wandb_server.add_artifact(E, P, "iris-model", logged_by="other")
    wandb_server.add_artifact(E, P, "iris-model", logged_by="r", metadata={"accuracy": 0.91})
    wandb_server.add_artifact(E, P, "iris-data", type="dataset", logged_by="r")
    wandb_server.add_artifact(E, P, "iris-model-small", logged_by="r")
    wandb_server.add_artifact(
        E, P, "iris-model", aliases=["latest"], logged_by="r",
        metadata={"framework": "sklearn", "accuracy": 0.93, "params": {"C": 1}},
    )  # fmt: skip
    versions = tracker().model_versions("iris-model", "r")
    assert [(v.model, v.version, v.run_id) for v in versions] == [
        ("iris-model", "v2", "r"),
        ("iris-model", "v1", "r"),
    ]
    assert versions[0].aliases == ("latest",)
    assert versions[0].tags == (("accuracy", "0.93"), ("framework", "sklearn"),
                                ("params", '{"C": 1}'))  # fmt: skip
    assert versions[1].tags == (("accuracy", "0.91"),)
    assert wandb_server.operations == ["Viewer", "Run", *FEATURES, "RunOutputArtifacts"]
    assert tracker().model_versions("iris-model", "other")[0].version == "v0"
    assert tracker().model_versions("no-such-model", "r") == []
    with pytest.raises(RunNotFoundError):
        tracker().model_versions("iris-model", "ghost")


def test_set_alias_moves_production_to_the_new_version(wandb_server: FakeWandbServer) -> None:
    _two_versions(wandb_server)
    before = tracker().resolve_alias("iris-model", "production")
    assert (before.version, before.run_id) == ("v0", "old")
    (candidate,) = tracker().model_versions("iris-model", "new")
    wandb_server.operations.clear()

    tracker().set_alias("iris-model", "production", candidate.version)

    # A wandb upgrade that changes what `artifact.save()` sends fails here: teach the fake.
    # then the alias is read back through a fresh Api (nothing cached)
    assert wandb_server.operations == [
        "Viewer", "ServerFeaturesQuery", BY_NAME, "AddAliases", "UpdateArtifact",
        "Viewer", "ServerFeaturesQuery", BY_NAME,
    ]  # fmt: skip
    after = tracker().resolve_alias("iris-model", "production")
    assert (after.version, after.run_id) == ("v1", "new")
    assert set(after.aliases) == {"latest", "production"}
    v0, v1 = wandb_server.artifacts
    assert (v0.aliases, v1.aliases) == ([], ["latest", "production"])
    assert (v0.metadata, v1.metadata) == ({"accuracy": 0.9},
                                          {"accuracy": 0.93, "validated": True})  # fmt: skip


def test_set_alias_already_there_changes_nothing(wandb_server: FakeWandbServer) -> None:
    _two_versions(wandb_server)
    tracker().set_alias("iris-model", "production", "0")  # a bare index means v0
    assert wandb_server.operations == ["Viewer", "ServerFeaturesQuery", BY_NAME]
    assert wandb_server.artifacts[0].aliases == ["production"]


@pytest.mark.parametrize("version", ["v7", "7"])
def test_set_alias_on_a_missing_version_is_a_promotion_error(
    wandb_server: FakeWandbServer, version: str
) -> None:
    _two_versions(wandb_server)
    with pytest.raises(
        PromotionError, match=r"no version v7 of W&B artifact `acme/iris/iris-model`"
    ):
        tracker().set_alias("iris-model", "production", version)
    assert "AddAliases" not in wandb_server.operations
    assert wandb_server.artifacts[0].aliases == ["production"]


@pytest.mark.parametrize("version", ["latest", "production", ""])
def test_set_alias_needs_a_version_not_an_alias(
    wandb_server: FakeWandbServer, version: str
) -> None:
    with pytest.raises(PromotionError, match="not a version"):
        tracker().set_alias("iris-model", "production", version)
    assert wandb_server.requests == 0


@pytest.mark.parametrize("status", [401, 403])
def test_refused_alias_mutation_is_a_promotion_error_without_the_key(
    wandb_server: FakeWandbServer, status: int
) -> None:
    """A read-only key: the artifact is read, the mutation is refused."""
    _two_versions(wandb_server)
    wandb_server.refuse["AddAliases"] = status
    started = time.monotonic()
    with pytest.raises(PromotionError) as caught:
        tracker().set_alias("iris-model", "production", "v1")
    text = str(caught.value)
    assert f"W&B refused (HTTP {status}) to move alias `production`" in text
    assert "write to project `acme/iris`" in text
    assert FAKE_WANDB_KEY not in text
    assert "UpdateArtifact" not in wandb_server.operations
    assert [a.aliases for a in wandb_server.artifacts] == [["production"], ["latest"]]
    assert time.monotonic() - started < 20


def test_existing_artifacts_reads_files_and_logged_artifacts(
    wandb_server: FakeWandbServer,
) -> None:
    wandb_server.add_run(E, P, id="r", files=["model.pkl", "metrics.json"])
    wandb_server.add_run(E, P, id="other", files=["report.html"])
    wandb_server.add_artifact(E, P, "iris-model", logged_by="r")
    wanted = ["model.pkl", "iris-model", "report.html", "missing.bin"]
    assert tracker().existing_artifacts("r", wanted) == {"model.pkl", "iris-model"}
    with pytest.raises(RunNotFoundError):
        tracker().existing_artifacts("ghost", wanted)


@pytest.mark.parametrize(("goal", "expected"), [("maximize", "s-hi"), ("minimize", "s-lo")])
def test_sweep_best_uses_the_sweep_metric_and_goal(
    wandb_server: FakeWandbServer, goal: str, expected: str
) -> None:
    config = {"method": "random", "metric": {"name": "val_acc", "goal": goal}}
    wandb_server.add_sweep(E, P, "sw1", config=config)
    wandb_server.add_run(E, P, id="s-lo", sweep="sw1", summary={"val_acc": 0.6})
    wandb_server.add_run(E, P, id="s-hi", sweep="sw1", summary={"val_acc": 0.9})
    wandb_server.add_run(E, P, id="s-none", sweep="sw1", summary={"loss": 0.1})
    wandb_server.add_run(E, P, id="s-run", sweep="sw1", state="running", summary={"val_acc": 1})
    wandb_server.add_run(E, P, id="s-zero", sweep="sw1", state="running", summary={"val_acc": 0})
    wandb_server.add_run(E, P, id="free", summary={"val_acc": 0.99})
    assert tracker().sweep_best("sw1").id == expected


def test_unknown_sweep_is_named(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_project(E, P)
    with pytest.raises(TrackerError, match="no sweep `nope` in W&B project `acme/iris`"):
        tracker().sweep_best("nope")


def test_nan_and_infinite_summaries_stay_floats(wandb_server: FakeWandbServer) -> None:
    summary = {"accuracy": float("nan"), "f1": "NaN", "loss": "Infinity", "low": "-Infinity"}
    wandb_server.add_run(E, P, id="n", summary=summary)
    metrics = tracker().get_run("n").metrics
    assert math.isnan(metrics["accuracy"])
    assert math.isnan(metrics["f1"])
    assert (metrics["loss"], metrics["low"]) == (math.inf, -math.inf)


def test_nested_summary_metric_accuracy_max(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="a", summary={"accuracy": {"max": 0.78, "last": 0.7}})
    wandb_server.add_run(E, P, id="b", summary={"accuracy": {"max": 0.81, "last": 0.6}})
    best = tracker().search(RunQuery(limit=1, order_by="accuracy.max"))
    assert ids(best) == ["b"]
    assert best[0].metrics == {"accuracy.max": 0.81, "accuracy.last": 0.6}
    query = RunQuery(limit=5, bound=MetricBound("accuracy.max", "<", 0.8))
    assert ids(tracker().search(query)) == ["a"]


def test_search_sends_exactly_these_graphql_operations(wandb_server: FakeWandbServer) -> None:
    """If a wandb upgrade changes what it sends, this fails and the fake must learn it."""
    wandb_server.add_run(E, P, id="r", commit="abc")
    tracker().search(RunQuery(limit=50, commits=("abc",), order_by="accuracy"))
    # one search by `config.git_commit`, one by W&B's recorded `commit`
    assert wandb_server.operations == ["Viewer", "Runs", "Runs"]


@pytest.mark.parametrize("size", [100, 10_000])
def test_search_cost_does_not_grow_with_the_project(
    wandb_server: FakeWandbServer, size: int
) -> None:
    for i in range(size):
        wandb_server.add_run(E, P, id=f"r{i}", summary={"accuracy": i / size}, created_at=at(i))
    gate = tracker()
    latest = gate.search(RunQuery(limit=1))
    best = gate.search(RunQuery(limit=1, order_by="accuracy"))
    assert (ids(latest), ids(best)) == ([f"r{size - 1}"], [f"r{size - 1}"])
    assert wandb_server.requests == 3  # Viewer + one Runs page per search, whatever the size


def test_fake_names_unknown_operations_and_checks_the_key(wandb_server: FakeWandbServer) -> None:
    def post(op: str, key: str) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"query": f"query {op} {{ x }}", "operationName": op}).encode()
        request = urllib.request.Request(f"{wandb_server.url}/graphql", data=body)
        request.add_header("Authorization", "Basic " + _b64(f"api:{key}"))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, payload = post("BrandNewQuery", FAKE_WANDB_KEY)
    assert status == 200
    assert "BrandNewQuery" in payload["errors"][0]["message"]
    wandb_server.api_key = "1" * 40
    assert post("Viewer", FAKE_WANDB_KEY)[0] == 401
    assert wandb_server.operations == ["BrandNewQuery", "Viewer"]


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_max_reply_mb_on_wandb_says_it_has_no_effect(
    wandb_server: FakeWandbServer, caplog: pytest.LogCaptureFixture
) -> None:
    fields = {"type": "wandb", "experiment": f"{E}/{P}"}
    create(TrackerConfig.model_validate(fields))
    assert "max_reply_mb" not in caplog.text

    create(TrackerConfig.model_validate({**fields, "max_reply_mb": 8}))

    assert "tracker.max_reply_mb has no effect on W&B" in caplog.text
