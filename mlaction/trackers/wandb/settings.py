"""Where ml-gate's W&B settings come from: the config, else the variables W&B users already set.

- key: `WANDB_API_KEY`, else the password `wandb login` stored in the netrc file (`NETRC`, else
  `~/.netrc`) for the base URL's host, as wandb 0.31.0 reads it (`wandb/sdk/lib/wbauth/wbnetrc.py`).
- base URL: `tracker.uri`, else `WANDB_BASE_URL` (dedicated and self-managed instances), else
  https://api.wandb.ai.
- `tracker.experiment`: `entity/project`; a bare `project` takes its entity from `WANDB_ENTITY`.
  (`experiment` is a required key of the config, so `WANDB_PROJECT` alone never names the project.)
"""

from __future__ import annotations

import atexit
import netrc
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from mlaction.config import TrackerConfig
from mlaction.errors import ConfigError, TrackerError

DEFAULT_BASE_URL = "https://api.wandb.ai"
KEY_HINT = (
    "Set WANDB_API_KEY in the step's env, e.g. `env: WANDB_API_KEY: ${{ secrets.WANDB_API_KEY }}` "
    "(a key from https://wandb.ai/authorize, or from your W&B server's user settings)."
)
_WANDB_DIR: list[str] = []


def base_url(config: TrackerConfig) -> str:
    return (config.uri or os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def entity_project(config: TrackerConfig) -> tuple[str, str]:
    """`entity/project` from tracker.experiment (and WANDB_ENTITY for a bare project name)."""
    text = config.experiment.strip()
    entity_env = os.environ.get("WANDB_ENTITY", "").strip()
    if "/" not in text:
        entity, project = entity_env, text
    else:
        entity, _, project = text.partition("/")
    if not entity or not project or "/" in project:
        raise ConfigError(
            f"tracker.experiment must be `entity/project` for W&B, got `{config.experiment}` "
            f"(WANDB_ENTITY: `{entity_env}`).",
            hint="Use the two path parts of the project URL, e.g. `my-team/iris-classifier`, "
            "or a bare project name with WANDB_ENTITY set in the step's env.",
        )
    return entity, project


def api_key(url: str) -> str:
    """WANDB_API_KEY, else the key `wandb login` stored in the netrc file for this host."""
    key = os.environ.get("WANDB_API_KEY", "").strip() or _netrc_key(url)
    if key:
        return key
    raise TrackerError(
        f"WANDB_API_KEY is not set and no netrc entry holds a key for {urlsplit(url).netloc}: "
        "ml-gate cannot read W&B runs.",
        hint=KEY_HINT,
    )


def _netrc_key(url: str) -> str | None:
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc").expanduser()
    host = urlsplit(url).netloc
    try:
        found = netrc.netrc(str(path)).authenticators(host) if host else None
    except (OSError, netrc.NetrcParseError):
        return None  # unreadable or malformed: as if absent (the message names WANDB_API_KEY)
    password = found[2] if found else None
    return password.strip() or None if password else None


def prepare_wandb(timeout: float) -> None:
    """No telemetry, a private scratch dir, bounded retries: before the first `wandb.Api`."""
    import wandb

    os.environ["WANDB_ERROR_REPORTING"] = "false"  # wandb-core runs with --no-observability
    os.environ["WANDB_SILENT"] = "true"
    if not _WANDB_DIR:
        _WANDB_DIR.append(tempfile.mkdtemp(prefix="ml-gate-wandb-"))
        atexit.register(shutil.rmtree, _WANDB_DIR[0], True)
    os.environ["WANDB_DIR"] = _WANDB_DIR[0]  # public Run objects create directories here
    # wandb-core retries failed GraphQL requests (429, 5xx, lost connections): bound them so a
    # dead server fails in seconds.
    bounded = wandb.Settings(
        x_graphql_retry_max=2,
        x_graphql_retry_wait_min_seconds=0.5,
        x_graphql_retry_wait_max_seconds=2.0,
        x_graphql_timeout_seconds=timeout,
    )
    wandb.setup(bounded)
