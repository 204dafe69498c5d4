"""promote.alias cannot be an alias the tracker manages itself (W&B and MLflow alike)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaction.config import parse_config
from mlaction.errors import ConfigError

FILE = Path(".github/ml-gate.yml")
CONFIG = """
tracker: {type: wandb, experiment: acme/iris}
metrics: {accuracy: {goal: maximize}}
promote: {model: iris-model, alias: %s}
"""


@pytest.mark.parametrize("alias", ["latest", "v0", "v12"])
def test_reserved_promote_alias_is_a_config_error(alias: str) -> None:
    with pytest.raises(ConfigError, match=f"`{alias}` is managed by the tracker itself"):
        parse_config(CONFIG % alias, FILE, {})


@pytest.mark.parametrize("alias", ["production", "champion", "v1-candidate", "latest-good"])
def test_ordinary_aliases_pass(alias: str) -> None:
    assert parse_config(CONFIG % alias, FILE, {}).gate.promote is not None
