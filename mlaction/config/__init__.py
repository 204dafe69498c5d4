"""The gate config: schema (pydantic models), loading (YAML, lines, ${VAR}), error messages."""

from __future__ import annotations

from mlaction.config.load import DEFAULT_CONFIG_PATH, LoadedConfig, load_config, parse_config
from mlaction.config.schema import (
    BaselineConfig,
    CandidateConfig,
    CommentConfig,
    GateConfig,
    MetricRule,
    NoiseConfig,
    OverrideConfig,
    PromoteConfig,
    PromoteEvent,
    RegistryRules,
    ReplicatesConfig,
    RunRules,
    Tolerance,
    TrackerConfig,
    parse_duration,
    parse_tolerance,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "BaselineConfig",
    "CandidateConfig",
    "CommentConfig",
    "GateConfig",
    "LoadedConfig",
    "MetricRule",
    "NoiseConfig",
    "OverrideConfig",
    "PromoteConfig",
    "PromoteEvent",
    "RegistryRules",
    "ReplicatesConfig",
    "RunRules",
    "Tolerance",
    "TrackerConfig",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_tolerance",
]
