"""`comparable:` candidate and baseline must share these, or their scores are not compared. Pure.

Params and tags are compared by value; `inputs: true` compares the evaluation datasets the runs
used, by name and digest: MLflow dataset inputs whose context (`mlflow.data.context`) is `eval`,
`evaluation`, `validation` or `test`, W&B artifacts the run used. A run whose tracker reports no
evaluation input cannot be shown comparable: that is a mismatch too (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping

from mlaction.config.schema import ComparableConfig
from mlaction.runs import DatasetInput, Run

EVAL_CONTEXTS = frozenset({"eval", "evaluation", "validation", "test"})
_MAX_TEXT = 80  # tracker text in a message is capped (and escaped by the report)
_SUFFIXES = (".max_regression", ".noise", ".min_improvement")


def mismatches(rules: ComparableConfig, candidate: Run, baseline: Run | None) -> list[str]:
    """Why candidate and baseline are not comparable (empty: comparable, or nothing to check)."""
    if baseline is None or not rules.active:
        return []
    found: list[str] = []
    for kind, keys, here, there in (
        ("param", rules.params, candidate.params, baseline.params),
        ("tag", rules.tags, candidate.tags, baseline.tags),
    ):
        found.extend(_differences(kind, keys, here, there))
    if rules.inputs:
        found.extend(_inputs(candidate, baseline))
    return found


def is_comparison(check_name: str) -> bool:
    """Whether a check compares the candidate with a reference (refused when not comparable)."""
    return check_name.endswith(_SUFFIXES)


def _differences(
    kind: str, keys: list[str], here: Mapping[str, str], there: Mapping[str, str]
) -> list[str]:
    found = []
    for key in keys:
        mine, theirs = here.get(key), there.get(key)
        if mine != theirs:
            found.append(
                f"{kind} `{_cap(key)}` is {_show(mine)} here and {_show(theirs)} in the baseline"
            )
    return found


def _inputs(candidate: Run, baseline: Run) -> list[str]:
    mine, theirs = _evaluation(candidate), _evaluation(baseline)
    if mine is None or theirs is None:
        side = "candidate" if mine is None else "baseline"
        return [f"the {side} run reports no evaluation dataset input (`comparable.inputs`)"]
    found = []
    for name in sorted(set(mine) | set(theirs)):
        a, b = mine.get(name), theirs.get(name)
        if a == b:
            continue
        if a is None or b is None:
            where = "the baseline" if a is None else "this run"
            found.append(f"evaluation dataset `{_cap(name)}` is used only by {where}")
        else:
            found.append(
                f"evaluation dataset `{_cap(name)}` has digest `{_cap(a)}` here and "
                f"`{_cap(b)}` in the baseline"
            )
    return found


def _evaluation(run: Run) -> dict[str, str] | None:
    """Name -> digest of the run's evaluation inputs; None when there is none to compare."""
    if not run.inputs:
        return None
    chosen: list[DatasetInput] = [
        i for i in run.inputs if i.context is None or i.context.lower() in EVAL_CONTEXTS
    ]
    if not chosen:
        return None
    return {i.name: i.digest for i in chosen}


def _show(value: str | None) -> str:
    return "not set" if value is None else f"`{_cap(value)}`"


def _cap(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
