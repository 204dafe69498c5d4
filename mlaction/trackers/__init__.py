"""Trackers, imported only when used; a missing SDK says which extra to install."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mlaction.errors import ConfigError, TrackerError

if TYPE_CHECKING:
    from mlaction.config import TrackerConfig
    from mlaction.trackers.base import Tracker

# name -> (module, SDK import name, install hint)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "mlflow": ("mlaction.trackers.mlflow", "mlflow", "pip install 'ml-gate[mlflow]'"),
    "wandb": ("mlaction.trackers.wandb", "wandb", "pip install 'ml-gate[wandb]'"),
}

# name -> (the environment's server, its default, the credentials sent to it)
CREDENTIALS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "mlflow": (
        "MLFLOW_TRACKING_URI",
        None,
        ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"),
    ),
    "wandb": ("WANDB_BASE_URL", "https://api.wandb.ai", ("WANDB_API_KEY",)),
}


def build_tracker(config: TrackerConfig, env: Mapping[str, str] | None = None) -> Tracker:
    """Import the tracker module for `config.type` and build it."""
    check_credentials(config, os.environ if env is None else env)
    module_name, sdk, hint = REGISTRY[config.type]
    try:
        importlib.import_module(sdk)
    except ImportError:
        raise TrackerError(
            f"tracker type `{config.type}` needs the `{sdk}` package, which is not installed.",
            hint=f"Install it with: {hint}",
        ) from None
    module = importlib.import_module(module_name)
    tracker: Tracker = module.create(config)
    return tracker


def check_credentials(config: TrackerConfig, env: Mapping[str, str]) -> None:
    """The environment's credentials go only to the environment's server.

    A config (which may come from a pull request) that names another server in `tracker.uri`
    while the environment holds credentials would send them there: refused, unless the config
    says `tracker.send_credentials_to_config_uri: true`.
    """
    server_variable, default, secrets = CREDENTIALS[config.type]
    present = [name for name in secrets if env.get(name, "").strip()]
    uri = (config.uri or "").strip()
    if not present or not uri or config.send_credentials_to_config_uri:
        return
    target = _origin(uri)
    if target is None:  # not an HTTP server (sqlite:, file:, databricks): no credentials sent
        return
    env_uri = env.get(server_variable, "").strip()
    home_uri = env_uri or default
    if home_uri and _origin(home_uri) == target:
        return
    if env_uri:
        home = f"{server_variable} ({_show(env_uri)})"
    elif home_uri:
        home = f"{_show(home_uri)} ({server_variable} is not set)"
    else:
        home = f"no server ({server_variable} is not set)"
    raise ConfigError(
        f"tracker.uri names {_show(uri)}, but the credentials in the environment "
        f"({', '.join(present)}) are for {home}: ml-gate does not send them to another server.",
        hint=f"Remove `tracker.uri` to use {server_variable}, set {server_variable} to the same "
        "server, or, if the config is trusted (never one a pull request can change), set "
        "`tracker.send_credentials_to_config_uri: true` (see docs/security.md).",
    )


def _origin(uri: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URI; None for any other kind of store."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _show(uri: str) -> str:
    """scheme://host[:port] only: never userinfo, a path or a query."""
    try:
        parts = urlsplit(uri)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable URI"
    if not parts.hostname:
        return f"`{parts.scheme or uri.split(':', 1)[0]}:` store"
    return f"{parts.scheme}://{parts.hostname}{port}"
