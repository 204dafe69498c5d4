"""What the W&B tracker searches, against W&B as it stores runs (fake follows wandb 0.31.0)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fakes.wandb_server import FakeWandbServer

from mlaction.config import TrackerConfig
from mlaction.errors import TrackerError
from mlaction.runs import FAILED, KILLED, RUNNING, Run
from mlaction.trackers.base import MetricBound, RunQuery
from mlaction.trackers.wandb import WandbTracker, create
from mlaction.trackers.wandb.query import CLIENT_WINDOW

pytest.importorskip("wandb")

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


# -- 1. dotted metric names: flat (`wandb.log({"val.acc": x})`) and nested (define_metric) ------
@pytest.mark.parametrize("descending", [True, False])
def test_dotted_metric_is_ranked_in_both_forms(
    wandb_server: FakeWandbServer, descending: bool
) -> None:
    wandb_server.add_run(E, P, id="flat-hi", summary={"val.acc": 0.9}, created_at=at(0))
    wandb_server.add_run(E, P, id="nested-mid", summary={"val": {"acc": 0.8}}, created_at=at(1))
    wandb_server.add_run(E, P, id="flat-lo", summary={"val.acc": 0.7}, created_at=at(2))
    wandb_server.add_run(E, P, id="none", summary={"loss": 1.0}, created_at=at(3))
    found = tracker().search(RunQuery(limit=2, order_by="val.acc", descending=descending))
    assert ids(found) == (["flat-hi", "nested-mid"] if descending else ["flat-lo", "nested-mid"])
    assert found[0].metrics["val.acc"] in (0.9, 0.7)


def test_dotted_metric_bound_matches_flat_keys(wandb_server: FakeWandbServer) -> None:
    wandb_server.add_run(E, P, id="flat", summary={"val.acc": 0.9}, created_at=at(0))
    wandb_server.add_run(E, P, id="nested", summary={"val": {"acc": 0.95}}, created_at=at(1))
    wandb_server.add_run(E, P, id="low", summary={"val.acc": 0.5}, created_at=at(2))
    query = RunQuery(limit=5, bound=MetricBound("val.acc", ">", 0.8))
    assert ids(tracker().search(query)) == ["nested", "flat"]


@pytest.mark.parametrize("name", ["val/acc", "loss-train", "test acc"])
def test_names_w_and_b_cannot_sort_are_ranked_client_side(
    wandb_server: FakeWandbServer, name: str
) -> None:
    for i, value in enumerate([0.7, 0.9, float("nan"), 0.8]):
        wandb_server.add_run(E, P, id=f"r{i}", summary={name: value}, created_at=at(i))
    wandb_server.add_run(E, P, id="other", summary={"loss": 0.1}, created_at=at(9))
    assert ids(tracker().search(RunQuery(limit=2, order_by=name))) == ["r1", "r3"]
    bound = RunQuery(limit=5, bound=MetricBound(name, "<", 0.85))
    assert ids(tracker().search(bound)) == ["r3", "r0"]
    assert all(name not in op for op in wandb_server.operations)


def test_client_side_ranking_refuses_when_the_window_is_full(
    wandb_server: FakeWandbServer,
) -> None:
    for i in range(CLIENT_WINDOW + 1):
        wandb_server.add_run(E, P, id=f"r{i}", summary={"val/acc": i}, created_at=at(i))
    with pytest.raises(TrackerError, match="cannot sort or filter metric `val/acc`") as caught:
        tracker().search(RunQuery(limit=1, order_by="val/acc"))
    assert "val_acc" in str(caught.value)


# -- 2. commits are checked client-side; `config.git_commit` is the documented field -----------
def test_a_server_ignoring_the_commit_filter_still_gives_the_right_run(
    wandb_server: FakeWandbServer,
) -> None:
    wandb_server.unknown_filter_keys["commit"] = True  # the clause is dropped: matches all
    wandb_server.add_run(E, P, id="mine", config={"git_commit": "abc"}, created_at=at(0))
    wandb_server.add_run(E, P, id="newer-other", commit="def", created_at=at(1))
    found = tracker().search(RunQuery(limit=1, commits=("abc",)))
    assert [(r.id, r.commit) for r in found] == [("mine", "abc")]


def test_a_server_matching_nothing_on_commit_still_finds_config_commits(
    wandb_server: FakeWandbServer,
) -> None:
    wandb_server.unknown_filter_keys["commit"] = False  # wandb/wandb#5122
    wandb_server.add_run(E, P, id="mine", config={"git_commit": "abc"}, created_at=at(0))
    assert ids(tracker().search(RunQuery(limit=5, commits=("abc",)))) == ["mine"]


def test_the_config_commit_wins_over_the_recorded_merge_commit(
    wandb_server: FakeWandbServer,
) -> None:
    """On pull_request W&B records the merge commit; the logged head sha is the run's commit."""
    wandb_server.add_run(E, P, id="pr", commit="merge1", config={"git_commit": "head1"})
    assert tracker().get_run("pr").commit == "head1"
    found = tracker().search(RunQuery(limit=5, commits=("merge1",)))
    assert [(r.id, r.commit) for r in found] == [("pr", "merge1")]


# -- 3. one search is never served from another's cache; no sweep fetch per run ----------------
def test_repeated_search_with_another_page_size_asks_again(wandb_server: FakeWandbServer) -> None:
    for i in range(5):
        wandb_server.add_run(E, P, id=f"r{i}", created_at=at(i))
    gate = tracker()
    assert ids(gate.search(RunQuery(limit=1))) == ["r4"]
    assert ids(gate.search(RunQuery(limit=3))) == ["r4", "r3", "r2"]
    assert wandb_server.operations == ["Viewer", "Runs", "Runs"]


# -- 7. a running or crashed run is never reported as finished ----------------------------------
@pytest.mark.parametrize(
    ("state", "status"),
    [("running", RUNNING), ("pending", RUNNING), ("preempting", RUNNING),
     ("crashed", FAILED), ("failed", FAILED), ("killed", KILLED), ("preempted", KILLED)],
)  # fmt: skip
def test_unfinished_w_and_b_states_are_normalised(
    wandb_server: FakeWandbServer, state: str, status: str
) -> None:
    wandb_server.add_run(E, P, id="c", state=state, summary={"accuracy": 0.5}, commit="abc")
    assert tracker().get_run("c").status == status
    found = tracker().search(RunQuery(limit=5, commits=("abc",), finished_only=False))
    assert [r.status for r in found] == [status]
    assert tracker().search(RunQuery(limit=5, commits=("abc",))) == []
