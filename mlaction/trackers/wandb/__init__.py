"""Weights & Biases tracker (imported only when W&B is used); see docs/wandb.md."""

from __future__ import annotations

from mlaction.trackers.wandb.query import build_filters
from mlaction.trackers.wandb.tracker import WandbTracker, create

__all__ = ["WandbTracker", "build_filters", "create"]
