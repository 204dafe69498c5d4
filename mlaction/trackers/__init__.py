"""Trackers, imported only when used; a missing SDK says which extra to install."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mlaction.errors import TrackerError

if TYPE_CHECKING:
    from mlaction.config import TrackerConfig
    from mlaction.trackers.base import Tracker

# name -> (module, SDK import name, install hint)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "mlflow": ("mlaction.trackers.mlflow", "mlflow", "pip install 'ml-gate[mlflow]'"),
    "wandb": ("mlaction.trackers.wandb", "wandb", "pip install 'ml-gate[wandb]'"),
}


def build_tracker(config: TrackerConfig) -> Tracker:
    """Import the tracker module for `config.type` and build it."""
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
