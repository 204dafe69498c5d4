"""Gate YAML -> validated, typed config: read the file, interpolate ${VAR}, validate.

Errors name the file, the key path and the line (mlaction.config.messages formats them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from mlaction.config.messages import format_errors, interpolate, line_index
from mlaction.config.schema import GateConfig
from mlaction.errors import ConfigError

DEFAULT_CONFIG_PATH = ".github/ml-gate.yml"


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    gate: GateConfig
    root: Path | None = None  # the repository (workspace) the path is named from

    @property
    def comment_id(self) -> str:
        return comment_id(self.path, self.root, self.gate.comment.id)


def comment_id(path: Path, root: Path | None = None, explicit: str | None = None) -> str:
    """The sticky comment's id: `comment.id`, else the config path as the repository names it;
    reduced to `[A-Za-z0-9._/-]`, so it is safe inside an HTML comment marker."""
    return clean_comment_id(explicit or _relative(path, root).as_posix())


def clean_comment_id(raw: str) -> str:
    """An id reduced to `[A-Za-z0-9._/-]` (at most 200 characters): nothing in it can end the
    HTML comment it is written into."""
    return re.sub(r"[^A-Za-z0-9._/-]", "_", raw[:200]).strip("-") or "default"


def _relative(path: Path, root: Path | None = None) -> Path:
    """The config path as the repository names it (relative to the workspace or the cwd)."""
    if path.is_absolute():
        try:
            return path.relative_to((root or Path.cwd()).resolve())
        except ValueError:
            return path
    return path


# --- loading ---------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, interpolate and validate a gate config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {file} not found.",
            hint="Create it (`ml-gate init` writes a starter) or pass its path with --config "
            "(the action's `config` input).",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}.") from None
    return parse_config(text, file, os.environ if env is None else env)


def parse_config(text: str, file: Path, env: Mapping[str, str]) -> LoadedConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{file}{where}: not valid YAML: {problem}.",
            hint="Check the indentation and quoting around that line.",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}, line 1: expected a mapping with `tracker:` and `metrics:` at the top, "
            f"got {type(data).__name__}."
        )
    lines = line_index(node)
    data = interpolate(data, (), env, file, lines)
    try:
        gate = GateConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, file, lines, GateConfig)) from None
    return LoadedConfig(file, gate)
