"""promote.skip_reason: who may promote. A pull request, a fork's commit, a `workflow_run` of a
pull request (or of an unknown origin) never; a tag push or release only through `promote.tags`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaction.config import PromoteConfig, parse_config
from mlaction.errors import ConfigError
from mlaction.promote import PromotionContext, skip_reason

REPO = "octo/models"


def promote_config(**extra: object) -> PromoteConfig:
    data: dict[str, object] = {"model": "m", "alias": "champion"}
    return PromoteConfig.model_validate({**data, **extra})


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (PromotionContext("pull_request", "main"), "pull requests never promote"),
        (PromotionContext("pull_request_target", "main"), "pull requests never promote"),
        (
            PromotionContext("push", "main", repository=REPO, head_repository="fork/models"),
            "the commit comes from another repository (fork/models)",
        ),
        (
            PromotionContext("workflow_run", "main", repository=REPO, is_fork=True),
            "the commit comes from another repository (a fork)",
        ),
        (
            PromotionContext(
                "workflow_run",
                "main",
                repository=REPO,
                head_repository=REPO,
                workflow_run_event="pull_request_target",
            ),
            "the workflow run was triggered by `pull_request_target`, not by the repository's "
            "own branch",
        ),
        (
            PromotionContext("workflow_run", "main", repository=REPO, head_repository=REPO),
            "the workflow run was triggered by an unknown event, not by the repository's own "
            "branch",
        ),
        (
            PromotionContext("workflow_run", "main", workflow_run_event="push"),
            "the repository the workflow run's commit came from is unknown",
        ),
        (
            PromotionContext("push", None, tag="v1.0"),
            "tag `v1.0` is not one of `promote.tags` (none listed)",
        ),
        (PromotionContext("push", "dev"), "branch `dev` is not one of `promote.branches` (main)"),
    ],
)
def test_never_promotes(context: PromotionContext, reason: str) -> None:
    config = promote_config(on=["push", "workflow_run"])
    assert skip_reason(config, "pass", context) == reason


def test_the_repositorys_own_runs_promote() -> None:
    config = promote_config(on=["push", "workflow_run", "release"], tags=["v*"])
    assert skip_reason(config, "pass", PromotionContext("push", "main")) is None
    run = PromotionContext(
        "workflow_run", "main", repository=REPO, head_repository=REPO, workflow_run_event="push"
    )
    assert skip_reason(config, "pass", run) is None
    assert skip_reason(config, "pass", PromotionContext("release", None, tag="v2.1")) is None
    assert skip_reason(config, "pass", PromotionContext("push", None, tag="v2.1")) is None
    assert skip_reason(config, "pass", PromotionContext("release", None, tag="nightly")) == (
        "tag `nightly` is not one of `promote.tags` (v*)"
    )
    assert skip_reason(config, "warn", PromotionContext("push", "main")) == (
        "the gate did not pass (verdict: warn)"
    )


def test_release_without_tags_is_a_config_error() -> None:
    text = (
        "tracker: {type: mlflow, uri: http://mlflow:5000, experiment: e}\n"
        "metrics: {accuracy: {min: 0.9}}\n"
        "promote: {model: m, alias: champion, on: [release]}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path(".github/ml-gate.yml"), {})
    assert str(caught.value) == (
        "invalid config:\n  - .github/ml-gate.yml, line 3, key `promote`: `on` lists `release`, "
        "but a release has a tag, not a branch: list the tags that may promote in "
        '`promote.tags` (e.g. `tags: ["v*"]`).'
    )
    assert parse_config(text.replace("]}", '], tags: ["v*"]}'), Path("c.yml"), {}).gate.promote
