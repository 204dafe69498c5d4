"""Gate YAML -> validated, typed config: read the file, interpolate ${VAR}, validate.

Errors name the file, the key path and the line (mlaction.config.messages formats them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlaction.config.messages import format_errors, interpolate, line_index, where
from mlaction.config.schema import GateConfig
from mlaction.config.strict_yaml import read_yaml
from mlaction.config.template import resolve_template
from mlaction.errors import ConfigError

DEFAULT_CONFIG_PATH = ".github/ml-gate.yml"


@dataclass(frozen=True)
class LoadedConfig:
    path: Path
    gate: GateConfig
    root: Path | None = None  # the repository (workspace) the path is named from
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple[str, ...] = ()  # lenient loading: values set only at run time

    @property
    def comment_id(self) -> str:
        return comment_id(self.path, self.root, self.gate.comment.id)

    def template_file(self) -> Path | None:
        """The checked `comment.template` file (inside the repository root: `root`, else the
        cwd; a small regular file), or None when the config names none."""
        value = self.gate.comment.template
        if value is None:
            return None
        key = where(self.path, self.lines, ("comment", "template"))
        return resolve_template(value, self.path, self.root, key)


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


def load_config(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    lenient: bool = False,
) -> LoadedConfig:
    """Read, interpolate and validate a gate config file.

    `lenient` checks a config without its environment (`ml-gate validate`): an unset ${VAR}
    becomes a warning in `LoadedConfig.warnings`, and the comment template is checked too.
    """
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
    return parse_config(text, file, os.environ if env is None else env, lenient=lenient)


def parse_config(
    text: str, file: Path, env: Mapping[str, str], *, lenient: bool = False
) -> LoadedConfig:
    """Validate a config's text. `lenient`: an unset ${VAR} is a warning, not an error (the
    value is set at run time), and what depends on it is not checked."""
    node, data = read_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}, line 1: expected a mapping with `tracker:` and `metrics:` at the top, "
            f"got {type(data).__name__}."
        )
    lines = line_index(node)
    unset: list[tuple[tuple[str, ...], str]] | None = [] if lenient else None
    data = interpolate(data, (), env, file, lines, unset)
    unresolved = frozenset(path for path, _ in unset or [])
    gate = _validate(data, file, lines, unresolved)
    if ("tracker", "experiment") not in unresolved:
        _check_experiment(gate, file, lines)
    warnings = tuple(
        f"{where(file, lines, path)}: ${{{name}}} is not set here; it must be set at run time."
        for path, name in unset or []
    )
    loaded = LoadedConfig(file, gate, lines=lines, warnings=warnings)
    if lenient and ("comment", "template") not in unresolved:
        loaded.template_file()
    return loaded


def _check_experiment(gate: GateConfig, file: Path, lines: Mapping[tuple[str, ...], int]) -> None:
    """What the tracker would refuse anyway, said with the line: W&B needs `entity/project`."""
    experiment = gate.tracker.experiment.strip()
    entity, _, project = experiment.partition("/")
    if gate.tracker.type == "wandb" and (not entity or not project or "/" in project):
        raise ConfigError(
            f"invalid config:\n  - {where(file, lines, ('tracker', 'experiment'))}: a W&B "
            f"experiment is `entity/project`, got {experiment!r}.",
            hint="Use the two path parts of the project URL, e.g. `my-team/iris-classifier`.",
        )


def _validate(
    data: dict[str, Any],
    file: Path,
    lines: dict[tuple[str, ...], int],
    unresolved: frozenset[tuple[str, ...]],
) -> GateConfig:
    """The typed config; problems in values left unresolved (lenient) are not reported."""
    context = {"unresolved": unresolved}
    try:
        return GateConfig.model_validate(data, context=context)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if not _under(e["loc"], unresolved)]
        if errors or not unresolved:
            raise ConfigError(format_errors(errors, file, lines, GateConfig)) from None
    # Every problem is in a value read from an unset variable: check the rest without those.
    try:
        return GateConfig.model_validate(_without(data, unresolved), context=context)
    except ValidationError as exc:
        errors = list(exc.errors(include_url=False))
        raise ConfigError(format_errors(errors, file, lines, GateConfig)) from None


def _under(loc: tuple[int | str, ...], paths: frozenset[tuple[str, ...]]) -> bool:
    at = tuple(str(part) for part in loc)
    return any(at[: len(path)] == path for path in paths)


def _without(data: Any, paths: frozenset[tuple[str, ...]], here: tuple[str, ...] = ()) -> Any:
    if isinstance(data, dict):
        return {
            k: _without(v, paths, (*here, str(k)))
            for k, v in data.items()
            if (*here, str(k)) not in paths
        }
    if isinstance(data, list):
        return [
            _without(v, paths, (*here, str(i)))
            for i, v in enumerate(data)
            if (*here, str(i)) not in paths
        ]
    return data
