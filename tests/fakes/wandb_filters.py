"""W&B's Mongo-style run filter language, as the fake evaluates it (wandb 0.31.0 client).

Sources: the operators `Api.runs` documents (wandb/apis/public/api.py: $and, $or, $nor, $eq, $ne,
$gt, $gte, $lt, $lte, $in, $nin, $exists, $regex); `config.<key>` reads the stored `value`
(wandb/wandb#9406: "leaf nodes have a value field added only for config items");
`summary_metrics.<a>.<b>` walks nested summary values, and `\\.` keeps a dot inside one key (a
flat `wandb.log({"val.acc": x})` key). Keys the fake is told are unknown (`unknown`) behave as
configured: matching nothing (seen in wandb/wandb#5122) or ignored (a server that drops them).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from typing import Any

_ORDERED = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_DOT = re.compile(r"(?<!\\)\.")


def lookup(doc: Mapping[str, Any], key: str) -> Any:
    """A dotted filter/order key into a run document; `config.k` reads the stored `value`."""
    parts = [part.replace("\\.", ".") for part in _DOT.split(key)]
    if parts[0] == "config" and len(parts) > 1:
        entry = doc["config"].get(parts[1])
        value = entry.get("value") if isinstance(entry, dict) else None
        rest = parts[3:] if len(parts) > 2 and parts[2] == "value" else parts[2:]
    elif parts[0] == "summary_metrics":
        value, rest = doc["summary_metrics"], parts[1:]
    else:
        return doc.get(key)
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def compare(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand or (isinstance(value, list) and operand in value))
    if op == "$ne":
        return not compare(value, "$eq", operand)
    if op == "$in":
        return any(compare(value, "$eq", item) for item in operand)
    if op == "$nin":
        return not compare(value, "$in", operand)
    if op == "$exists":
        return (value is not None) == bool(operand)
    if op in _ORDERED:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and not math.isnan(value) and bool(_ORDERED[op](value, operand))
    raise ValueError(f"unsupported filter operator {op}")


def matches(
    doc: Mapping[str, Any], query: Mapping[str, Any], unknown: Mapping[str, bool] | None = None
) -> bool:
    """Evaluate a Mongo-style W&B run filter against one run document.

    `unknown`: filter keys the server does not know, each with what its clause evaluates to
    (False: matches nothing, True: ignored)."""
    unknown = unknown or {}
    for key, cond in query.items():
        if key == "$and":
            ok = all(matches(doc, sub, unknown) for sub in cond)
        elif key == "$or":
            ok = any(matches(doc, sub, unknown) for sub in cond)
        elif key == "$nor":
            ok = not any(matches(doc, sub, unknown) for sub in cond)
        elif key in unknown:
            ok = unknown[key]
        elif key.startswith("$"):
            raise ValueError(f"unsupported filter operator {key}")
        elif isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            value = lookup(doc, key)
            ok = all(compare(value, op, operand) for op, operand in cond.items())
        else:
            ok = compare(lookup(doc, key), "$eq", cond)
        if not ok:
            return False
    return True


def sort_key(value: Any) -> tuple[int, Any]:
    """MySQL-like: NULL (and NaN / non-numbers) sort first ascending, last descending."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return (0, 0)
    if isinstance(value, float) and math.isnan(value):
        return (0, 0)
    return (1, value) if not isinstance(value, str) else (2, value)
