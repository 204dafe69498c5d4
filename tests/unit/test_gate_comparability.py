"""`comparable:` (mlaction/gate/comparability.py): params, tags and evaluation inputs that must be
equal between candidate and baseline, and what the verdict does when they are not."""

from __future__ import annotations

import pytest
from gate_helpers import BASE_SHA, CAND_SHA, check, judge, run, selection

from mlaction.config.schema import ComparableConfig
from mlaction.gate.comparability import is_comparison, mismatches
from mlaction.gate.verdict import Verdict
from mlaction.runs import DatasetInput, Run

EVAL_V3 = DatasetInput("eval_dataset", "v3", "eval")
EVAL_V2 = DatasetInput("eval_dataset", "v2", "eval")
TRAIN = DatasetInput("train_dataset", "t1", "training")


def rules(**fields: object) -> ComparableConfig:
    return ComparableConfig.model_validate(fields)


def pair(
    mine: dict[str, str] | None = None,
    theirs: dict[str, str] | None = None,
    *,
    kind: str = "params",
) -> tuple[Run, Run]:
    if kind == "tags":
        return run("c", CAND_SHA, tags=mine), run("b", BASE_SHA, tags=theirs)
    return run("c", CAND_SHA, params=mine), run("b", BASE_SHA, params=theirs)


# --- params and tags ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [
        ({"split": "v3"}, {"split": "v3"}, []),
        ({"split": "v3"}, {"split": "v2"}, ["`split` is `v3` here and `v2` in the baseline"]),
        ({"split": "v3"}, {}, ["`split` is `v3` here and not set in the baseline"]),
        ({}, {"split": "v2"}, ["`split` is not set here and `v2` in the baseline"]),
        ({}, {}, []),  # unset on both sides: the same
        ({"split": "v3", "other": "x"}, {"split": "v3", "other": "y"}, []),  # not named
    ],
)
def test_params_and_tags(
    kind: str, mine: dict[str, str], theirs: dict[str, str], expected: list[str]
) -> None:
    word = kind[:-1]
    found = mismatches(rules(**{kind: ["split"]}), *pair(mine, theirs, kind=kind))
    assert found == [f"{word} {text}" for text in expected]


def test_every_difference_is_listed_in_order() -> None:
    cand = run("c", CAND_SHA, params={"a": "1", "b": "2"}, tags={"t": "x"})
    base = run("b", BASE_SHA, params={"a": "9", "b": "8"}, tags={"t": "y"})
    assert mismatches(rules(params=["a", "b"], tags=["t"]), cand, base) == [
        "param `a` is `1` here and `9` in the baseline",
        "param `b` is `2` here and `8` in the baseline",
        "tag `t` is `x` here and `y` in the baseline",
    ]


def test_tracker_text_is_capped_and_loses_backticks() -> None:
    long = "`" + "x" * 200
    found = mismatches(rules(params=["p"]), *pair({"p": long}, {"p": "v"}))
    assert found == [f"param `p` is `'{'x' * 78}…` here and `v` in the baseline"]


def test_nothing_to_check() -> None:
    cand, base = pair({"split": "v3"}, {"split": "v2"})
    assert mismatches(rules(), cand, base) == []  # nothing named
    assert mismatches(rules(params=["split"]), cand, None) == []  # no baseline: no comparison


# --- evaluation inputs -------------------------------------------------------------------------


def inputs(
    mine: tuple[DatasetInput, ...] | None, theirs: tuple[DatasetInput, ...] | None
) -> list[str]:
    cand = run("c", CAND_SHA, inputs=mine)
    base = run("b", BASE_SHA, inputs=theirs)
    return mismatches(rules(inputs=True), cand, base)


def test_same_evaluation_dataset() -> None:
    assert inputs((EVAL_V3, TRAIN), (EVAL_V3,)) == []  # training inputs are not compared


@pytest.mark.parametrize("context", ["eval", "Evaluation", "validation", "test", None])
def test_evaluation_contexts(context: str | None) -> None:
    mine = (DatasetInput("eval_dataset", "v3", context),)
    assert inputs(mine, (EVAL_V2,)) == [
        "evaluation dataset `eval_dataset` has digest `v3` here and `v2` in the baseline"
    ]


def test_a_dataset_on_one_side_only() -> None:
    other = DatasetInput("holdout", "h1", "eval")
    assert inputs((EVAL_V3, other), (EVAL_V3,)) == [
        "evaluation dataset `holdout` is used only by this run"
    ]
    assert inputs((EVAL_V3,), (EVAL_V3, other)) == [
        "evaluation dataset `holdout` is used only by the baseline"
    ]


@pytest.mark.parametrize(
    ("mine", "theirs", "side"),
    [
        (None, (EVAL_V3,), "candidate"),  # the tracker did not report inputs
        ((), (EVAL_V3,), "candidate"),  # no input at all
        ((TRAIN,), (EVAL_V3,), "candidate"),  # training data only
        ((EVAL_V3,), None, "baseline"),
    ],
)
def test_no_evaluation_input_cannot_be_shown_comparable(
    mine: tuple[DatasetInput, ...] | None, theirs: tuple[DatasetInput, ...] | None, side: str
) -> None:
    assert inputs(mine, theirs) == [
        f"the {side} run reports no evaluation dataset input (`comparable.inputs`)"
    ]


@pytest.mark.parametrize(
    ("name", "compares"),
    [
        ("acc.max_regression", True),
        ("acc.noise", True),
        ("acc.min_improvement", True),
        ("acc.min", False),
        ("acc.present", False),
        ("run.max_age", False),
    ],
)
def test_which_checks_are_comparisons(name: str, compares: bool) -> None:
    assert is_comparison(name) is compares


# --- through the verdict -----------------------------------------------------------------------

RULES = "  acc: {min: 0.5, max_regression: 0.05, min_improvement: 0.0, noise: false}"
WHY = (
    "not comparable: evaluation dataset `eval_dataset` has digest `v3` here and `v2` in the "
    "baseline"
)


def _judge(extra: str, cand_inputs: tuple[DatasetInput, ...]) -> Verdict:
    cand = run("c", CAND_SHA, inputs=cand_inputs, acc=0.91)
    base = run("b", BASE_SHA, inputs=(EVAL_V2,), acc=0.90)
    return judge(RULES, selection((cand,), (base,)), f"comparable: {{inputs: true{extra}}}")


def test_mismatch_fails_every_comparison_check() -> None:
    verdict = _judge("", (EVAL_V3,))
    assert verdict.verdict == "fail"
    for name in ("acc.max_regression", "acc.min_improvement"):
        found = check(verdict, name)
        assert (found.status, found.message, found.violated) == ("fail", WHY, True)
    assert check(verdict, "acc.min").status == "pass"
    assert verdict.notes[0] == (
        f"Candidate and baseline are {WHY}. Comparisons with the baseline are refused."
    )


def test_on_mismatch_warn_reports_a_warning() -> None:
    verdict = _judge(", on_mismatch: warn", (EVAL_V3,))
    assert verdict.verdict == "warn"
    for name in ("acc.max_regression", "acc.min_improvement"):
        found = check(verdict, name)
        assert (found.status, found.message) == ("warn", WHY)
    assert verdict.notes[0].endswith("reported as warnings (`comparable.on_mismatch: warn`).")


def test_same_dataset_compares_normally() -> None:
    verdict = _judge("", (EVAL_V2,))
    assert verdict.verdict == "pass"
    assert check(verdict, "acc.max_regression").message.startswith("`acc` = 0.91 vs baseline")
