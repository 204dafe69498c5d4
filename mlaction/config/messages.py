"""Where a config problem is: YAML line numbers, ${VAR} interpolation, readable pydantic errors.

Used by mlaction.config; knows nothing of the gate's models but what it is handed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from mlaction.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def line_index(node: yaml.Node | None, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path to the 1-based line where it appears."""
    index: dict[tuple[str, ...], int] = {}
    if node is None:
        return index
    index.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            index[key] = key_node.start_mark.line + 1
            index.update({k: v for k, v in line_index(value_node, key).items() if k != key})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(line_index(item, (*path, str(i))))
    return index


_SECRET_PARTS = ("TOKEN", "SECRET", "PASSWORD", "KEY")
_SECRET_PREFIXES = ("INPUT_", "ACTIONS_")


def secret_like(name: str) -> str | None:
    """What makes an environment variable's name look like a secret, or None."""
    upper = name.upper()
    for part in _SECRET_PARTS:
        if part in upper:
            return f"its name contains {part}"
    for prefix in _SECRET_PREFIXES:
        if upper.startswith(prefix):
            return f"its name starts with {prefix}"
    return None


def interpolate(
    value: Any,
    path: tuple[str, ...],
    env: Mapping[str, str],
    file: Path,
    lines: Mapping[tuple[str, ...], int],
    unset: list[tuple[tuple[str, ...], str]] | None = None,
) -> Any:
    """Replace ${VAR} and ${VAR:-default} from `env`.

    A secret-like name is refused. An unset variable is an error, or, when `unset` is a list
    (checking a config without its environment), recorded there and left as written.
    """
    if isinstance(value, dict):
        return {
            k: interpolate(v, (*path, str(k)), env, file, lines, unset) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate(v, (*path, str(i)), env, file, lines, unset) for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        why = secret_like(name)
        if why is not None:
            raise ConfigError(
                f"{where(file, lines, path)}: ${{{name}}} is refused: {why}, and a config "
                "value can end up in the comment, the summary or the log.",
                hint="ml-gate reads tracker credentials from the step's `env:` itself "
                "(MLFLOW_TRACKING_TOKEN, WANDB_API_KEY); write the value into the config, or "
                "rename the variable if it is not a secret.",
            )
        if name in env:
            return env[name]
        if default is not None:
            return default
        if unset is not None:
            unset.append((path, name))
            return match.group(0)
        raise ConfigError(
            f"{where(file, lines, path)}: environment variable {name} is not set.",
            hint=f"Set {name} in the step's `env:` or write `${{{name}:-default}}` in the config.",
        )

    return _ENV_REF.sub(substitute, value)


def where(file: Path, lines: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> str:
    probe = path
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    key = ".".join(path) if path else "(top level)"
    return f"{file}, line {line}, key `{key}`" if line else f"{file}, key `{key}`"


def format_errors(
    errors: Sequence[ErrorDetails],
    file: Path,
    lines: Mapping[tuple[str, ...], int],
    root: type[BaseModel],
) -> str:
    """One line per problem: file, line, key path, what was expected (and the nearest key)."""
    messages = []
    for error in errors:
        path = tuple(str(part) for part in error["loc"])
        messages.append(f"{where(file, lines, path)}: {_explain(error, path, root)}")
    head = "invalid config" if len(messages) == 1 else f"{len(messages)} problems in the config"
    return f"{head}:\n" + "\n".join(f"  - {m}" for m in messages)


def _explain(error: Any, path: tuple[str, ...], root: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        valid = _valid_keys(root, path[:-1])
        close = difflib.get_close_matches(path[-1], valid, n=1, cutoff=0.6)
        suggestion = f" Did you mean `{close[0]}`?" if close else ""
        return f"unknown key.{suggestion} Valid keys here: {', '.join(valid)}."
    if kind == "missing":
        return "required key is missing."
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {error.get('input')!r}."
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind in {"float_parsing", "float_type", "int_parsing", "int_type"}:
        message = f"expected a number, got {error.get('input')!r}"
    elif kind in {"dict_type", "model_type"}:
        message = f"expected a mapping of keys, got {error.get('input')!r}"
    elif kind == "list_type":
        message = f"expected a list, got {error.get('input')!r}"
    elif kind == "string_type":
        message = f"expected a string, got {error.get('input')!r}"
    message = message.rstrip(".")
    return message if message.endswith("?") else message + "."


def _valid_keys(root: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """The keys allowed at a path of the config (for 'did you mean')."""
    model = root
    i = 0
    while i < len(path):
        field = model.model_fields.get(path[i])
        if field is None:
            return []
        annotation = field.annotation
        step = 1
        if getattr(annotation, "__origin__", None) is dict:  # e.g. metrics.<name>.<key>
            annotation, step = annotation.__args__[1], 2  # type: ignore[union-attr]
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
        i += step
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
