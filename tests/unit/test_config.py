"""Config validation: messages asserted verbatim (file, line, key path, expectation, fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaction.config import Tolerance, load_config, parse_config, parse_duration, parse_tolerance
from mlaction.errors import ConfigError

FILE = Path(".github/ml-gate.yml")


def error_of(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE, env or {})
    return str(caught.value)


def test_typo_suggests_nearest_key_with_line() -> None:
    text = (
        "tracker:\n  experiment: x\nmetrics:\n  accuracy:\n    min: 0.9\n    max_regresion: 0.02\n"
    )
    assert error_of(text) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 6, key `metrics.accuracy.max_regresion`: unknown key. "
        "Did you mean `max_regression`? Valid keys here: goal, min, max, max_regression, "
        "min_improvement, noise, replicates, test, confidence."
    )


def test_top_level_typo() -> None:
    assert error_of("tracker:\n  experiment: x\nmetric:\n  a: {}\n") == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 3, key `metric`: unknown key. Did you mean `metrics`? "
        "Valid keys here: tracker, candidate, baseline, metrics, comparable, confirm, run, "
        "comment, on_failure, registry, promote, override."
    )


def test_wrong_type_names_value() -> None:
    assert error_of("tracker:\n  experiment: x\nmetrics:\n  accuracy: {min: high}\n") == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 4, key `metrics.accuracy.min`: expected a number, "
        "got 'high'."
    )


def test_missing_tracker() -> None:
    assert error_of("metrics:\n  accuracy: {min: 0.9}\n") == (
        "invalid config:\n  - .github/ml-gate.yml, line 1, key `tracker`: required key is missing."
    )


def test_unknown_tracker_type() -> None:
    text = "tracker:\n  type: neptune\n  experiment: x\nmetrics:\n  a: {min: 0.9}\n"
    assert error_of(text) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 2, key `tracker.type`: expected one of 'mlflow' or "
        "'wandb', got 'neptune'."
    )


def test_bad_tolerance_and_duration_are_both_reported() -> None:
    text = (
        "tracker:\n  experiment: x\nmetrics:\n  accuracy: {max_regression: two}\n"
        "run:\n  max_age: 7 days\n"
    )
    assert error_of(text) == (
        "2 problems in the config:\n"
        "  - .github/ml-gate.yml, line 4, key `metrics.accuracy.max_regression`: expected a "
        "number (absolute) or a percentage such as \"2%\", got 'two'.\n"
        "  - .github/ml-gate.yml, line 6, key `run.max_age`: expected a duration such as 90s, "
        "30m, 1h or 7d, got '7 days'."
    )


def test_min_above_max() -> None:
    assert error_of("tracker:\n  experiment: x\nmetrics:\n  f1: {min: 0.9, max: 0.5}\n") == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 4, key `metrics.f1`: min (0.9) is greater than max (0.5)."
    )


def test_alias_needs_model_and_alias() -> None:
    text = "tracker:\n  experiment: x\nbaseline:\n  select: alias\nmetrics:\n  a: {}\n"
    assert error_of(text) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 3, key `baseline`: select: alias needs `model` and "
        "`alias`."
    )


def test_missing_env_var() -> None:
    assert error_of("tracker:\n  experiment: ${EXP}\nmetrics:\n  a: {}\n") == (
        ".github/ml-gate.yml, line 2, key `tracker.experiment`: environment variable EXP is not "
        "set.\nSet EXP in the step's `env:` or write `${EXP:-default}` in the config."
    )


def test_env_interpolation_and_default() -> None:
    text = "tracker:\n  uri: ${URI}\n  experiment: ${EXP:-iris}\nmetrics:\n  a: {min: 1}\n"
    gate = parse_config(text, FILE, {"URI": "http://x:5000"}).gate
    assert gate.tracker.uri == "http://x:5000"
    assert gate.tracker.experiment == "iris"


def test_yaml_syntax_error_names_line() -> None:
    assert error_of("tracker:\n  experiment: x\n metrics: [\n") == (
        ".github/ml-gate.yml, line 3: not valid YAML: expected <block end>, but found "
        "'<block mapping start>'.\nCheck the indentation and quoting around that line."
    )


def test_not_a_mapping() -> None:
    assert error_of("- a\n- b\n") == (
        ".github/ml-gate.yml, line 1: expected a mapping with `tracker:` and `metrics:` at the "
        "top, got list."
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yml")
    assert str(caught.value) == (
        f"config file {tmp_path / 'nope.yml'} not found.\n"
        "Create it (`ml-gate init` writes a starter) or pass its path with --config "
        "(the action's `config` input)."
    )


def test_full_contract_parses() -> None:
    text = """
tracker: {type: mlflow, uri: http://mlflow:5000, experiment: iris, timeout: 45s}
candidate: {select: commit, run_id: null, filter: "params.model = 'lr'"}
baseline: {select: best, metric: accuracy, branch: main, model: iris, alias: champion}
metrics:
  accuracy: {min: 0.90, max_regression: 0.02}
  f1: {min: 0.88}
  val_loss: {goal: minimize, max_regression: 5%}
run:
  max_duration: 1h
  max_age: 7d
  required_params: [lr]
  required_tags: [dataset]
  required_artifacts: [model/MLmodel]
comment: {mode: on_failure, title: Iris, template: null, history: 20}
on_failure: warn
"""
    gate = parse_config(text, FILE, {}).gate
    assert gate.tracker.timeout == 45
    assert gate.metrics["val_loss"].max_regression == Tolerance(5.0, relative=True)
    assert gate.metrics["accuracy"].max_regression == Tolerance(0.02, relative=False)
    assert gate.metrics["val_loss"].goal == "minimize"
    assert gate.run.max_duration == 3600
    assert gate.run.max_age == 7 * 86400
    assert gate.ranking_metric == "accuracy"
    assert gate.on_failure == "warn"


def test_comment_id_from_path_or_config() -> None:
    text = "tracker: {experiment: x}\nmetrics: {a: {}}\n"
    assert parse_config(text, FILE, {}).comment_id == ".github/ml-gate.yml"
    with_id = text + "comment: {id: 'model A <b>'}\n"
    assert parse_config(with_id, FILE, {}).comment_id == "model_A__b_"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("1h", 3600),
        ("7d", 604800),
        ("2w", 1209600),
        (45, 45),
        ("1.5h", 5400),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5s", "1y", True, -1])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(bad)


def test_tolerances() -> None:
    assert parse_tolerance("2%") == Tolerance(2.0, relative=True)
    assert parse_tolerance(0.02) == Tolerance(0.02, relative=False)
    assert parse_tolerance("0.5") == Tolerance(0.5, relative=False)
    assert Tolerance(2.0, relative=True).allowed(-0.5) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="zero or positive"):
        parse_tolerance(-1)
