"""YAML for a gate config: one parse, no anchors or aliases, no duplicate keys, bounded depth.

PyYAML's SafeLoader shares aliased nodes, so a "billion laughs" document or an alias cycle
turns every walk of the data into an exponential (or endless) one; and it keeps the last of two
equal keys, silently dropping the first block. A gate config needs none of that: anchors and
aliases are refused, a repeated key is an error naming both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlaction.errors import ConfigError

MAX_DEPTH = 64  # nesting levels; a real gate config uses five


class _GateLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases while composing (before any expansion)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AnchorError(event.start_mark.line + 1, str(event.anchor))
        return super().compose_node(parent, index)


class _AnchorError(Exception):
    def __init__(self, line: int, name: str) -> None:
        super().__init__(name)
        self.line, self.name = line, name


def read_yaml(text: str, file: Path) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, or a ConfigError."""
    loader = _GateLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_mapping_keys(node, file, (), 0)
        data = None if node is None else loader.construct_document(node)
    except _AnchorError as exc:
        raise ConfigError(
            f"{file}, line {exc.line}: YAML anchors and aliases (`&{exc.name}`, `*{exc.name}`) "
            "are not supported in a gate config.",
            hint="Write the value out where it is used.",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{file}{where}: not valid YAML: {problem}.",
            hint="Check the indentation and quoting around that line.",
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{file}: the YAML is nested too deeply to be a gate config.",
            hint=f"A gate config has a few levels of keys (at most {MAX_DEPTH}).",
        ) from None
    finally:
        loader.dispose()
    return node, data


def _check_mapping_keys(node: yaml.Node, file: Path, path: tuple[str, ...], depth: int) -> None:
    """Refuse a key that appears twice in one mapping (YAML would keep only the last)."""
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"{file}, line {node.start_mark.line + 1}: the YAML is nested more than "
            f"{MAX_DEPTH} levels deep.",
            hint="A gate config has a few levels of keys.",
        )
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_mapping_keys(item, file, (*path, str(i)), depth + 1)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[tuple[str, str], int] = {}
    for key_node, value_node in node.value:
        key = (key_node.tag, str(key_node.value))
        line = key_node.start_mark.line + 1
        key_path = ".".join((*path, str(key_node.value)))
        if key in seen:
            raise ConfigError(
                f"{file}, lines {seen[key]} and {line}: key `{key_path}` appears twice; "
                "YAML would keep only the second.",
                hint="Merge the two into one block.",
            )
        seen[key] = line
        _check_mapping_keys(value_node, file, (*path, str(key_node.value)), depth + 1)
