"""Reading a config fails closed: duplicate keys, YAML aliases, scheme-less URIs, secrets in
${VAR}, checking without the environment. Messages asserted verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaction.config import load_config, parse_config
from mlaction.errors import ConfigError

FILE = Path(".github/ml-gate.yml")


def error_of(text: str, env: dict[str, str] | None = None, *, lenient: bool = False) -> str:
    # `lenient` is passed only when asked, so the strict cases run on older code as well.
    options = {"lenient": True} if lenient else {}
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE, env or {}, **options)
    return str(caught.value)


# --- YAML ------------------------------------------------------------------------------------


def test_duplicate_top_level_key_names_both_lines() -> None:
    text = "tracker: {experiment: x}\nmetrics:\n  accuracy: {min: 0.9}\nmetrics:\n  f1: {}\n"
    assert error_of(text) == (
        ".github/ml-gate.yml, lines 2 and 4: key `metrics` appears twice; YAML would keep only "
        "the second.\nMerge the two into one block."
    )


def test_duplicate_nested_key_names_its_path() -> None:
    text = "tracker: {experiment: x}\nmetrics:\n  accuracy:\n    min: 0.9\n    min: 0.5\n"
    assert error_of(text) == (
        ".github/ml-gate.yml, lines 4 and 5: key `metrics.accuracy.min` appears twice; YAML "
        "would keep only the second.\nMerge the two into one block."
    )


def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    lines = ["tracker: {experiment: x}", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 12)]
    text = "\n".join(lines) + "\nmetrics: {a: *l11}\n"
    assert error_of(text) == (
        ".github/ml-gate.yml, line 2: YAML anchors and aliases (`&l0`, `*l0`) are not "
        "supported in a gate config.\nWrite the value out where it is used."
    )


def test_alias_cycle_is_refused() -> None:
    text = "tracker: {experiment: x}\nmetrics: &loop\n  a: *loop\n"
    assert error_of(text) == (
        ".github/ml-gate.yml, line 2: YAML anchors and aliases (`&loop`, `*loop`) are not "
        "supported in a gate config.\nWrite the value out where it is used."
    )


def test_alias_alone_names_its_line() -> None:
    # An alias to an undefined anchor is YAML's own error; a defined one is refused first.
    text = "tracker: {experiment: x}\nmetrics:\n  a: {min: 0.9}\n  b: *x\n"
    assert error_of(text).startswith(".github/ml-gate.yml, line 4: ")


def test_deep_nesting_is_a_config_error() -> None:
    text = "tracker: {experiment: x}\nmetrics: " + "[" * 5000 + "]" * 5000 + "\n"
    assert error_of(text) == (
        ".github/ml-gate.yml: the YAML is nested too deeply to be a gate config.\n"
        "A gate config has a few levels of keys (at most 64)."
    )


# --- tracker.uri ----------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["127.0.0.1:5000", "localhost:5000", "mlflow:5000/prefix"])
def test_schemeless_mlflow_uri_suggests_http(uri: str) -> None:
    text = f"tracker: {{uri: '{uri}', experiment: x}}\nmetrics: {{a: {{}}}}\n"
    assert error_of(text) == (
        "invalid config:\n"
        f"  - .github/ml-gate.yml, line 1, key `tracker.uri`: `{uri}` has no scheme: did you "
        f"mean http://{uri}?"
    )


def test_schemeless_uri_from_the_environment_names_the_line() -> None:
    text = "tracker:\n  uri: ${MLFLOW_TRACKING_URI}\n  experiment: x\nmetrics: {a: {}}\n"
    assert error_of(text, {"MLFLOW_TRACKING_URI": "127.0.0.1:5000"}) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 2, key `tracker.uri`: `127.0.0.1:5000` has no scheme: "
        "did you mean http://127.0.0.1:5000?"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:5000",
        "https://mlflow.example.com/prefix",
        "sqlite:///mlflow.db",
        "file:///tmp/mlruns",
        "file:mlruns",
        "mlruns",
        "./mlruns",
        "/tmp/mlruns",
        "databricks",
        "databricks://profile",
        "databricks-uc",
    ],
)
def test_mlflow_store_uris_pass_unchanged(uri: str) -> None:
    text = f"tracker: {{uri: '{uri}', experiment: x}}\nmetrics: {{a: {{}}}}\n"
    assert parse_config(text, FILE, {}).gate.tracker.uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("wandb.local:8080", "`wandb.local:8080` has no scheme: did you mean http://wandb.local:8080?"),
        ("api.wandb.ai", "`api.wandb.ai` has no scheme: did you mean https://api.wandb.ai?"),
        ("sqlite:///x.db", "a W&B base URL is `https://host` or `http://host:port`, got 'sqlite:///x.db'."),
    ],
)  # fmt: skip
def test_wandb_base_url_must_be_http(uri: str, message: str) -> None:
    text = f"tracker: {{type: wandb, uri: '{uri}', experiment: a/b}}\nmetrics: {{a: {{}}}}\n"
    assert error_of(text) == (
        f"invalid config:\n  - .github/ml-gate.yml, line 1, key `tracker.uri`: {message}"
    )


def test_wandb_experiment_needs_entity() -> None:
    text = "tracker:\n  type: wandb\n  experiment: iris\nmetrics: {a: {}}\n"
    assert error_of(text) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 3, key `tracker.experiment`: a W&B experiment is "
        "`entity/project`, got 'iris'.\n"
        "Use the two path parts of the project URL, e.g. `my-team/iris-classifier`."
    )


# --- ${VAR} ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("GITHUB_TOKEN", "its name contains TOKEN"),
        ("MY_SECRET_THING", "its name contains SECRET"),
        ("DB_PASSWORD", "its name contains PASSWORD"),
        ("WANDB_API_KEY", "its name contains KEY"),
        ("aws_access_key_id", "its name contains KEY"),
        ("INPUT_CONFIG", "its name starts with INPUT_"),
        ("ACTIONS_RUNTIME_URL", "its name starts with ACTIONS_"),
    ],
)
def test_secret_like_variables_are_refused(name: str, why: str) -> None:
    text = f"tracker: {{experiment: x}}\nmetrics: {{a: {{}}}}\ncomment:\n  title: ${{{name}}}\n"
    secret = "ghs_very_secret_value"
    message = error_of(text, {name: secret})
    assert message == (
        f".github/ml-gate.yml, line 4, key `comment.title`: ${{{name}}} is refused: {why}, "
        "and a config value can end up in the comment, the summary or the log.\n"
        "ml-gate reads tracker credentials from the step's `env:` itself "
        "(MLFLOW_TRACKING_TOKEN, WANDB_API_KEY); write the value into the config, or rename "
        "the variable if it is not a secret."
    )
    assert secret not in message


def test_secret_like_variable_with_a_default_is_refused_too() -> None:
    text = "tracker: {experiment: 'x-${GITHUB_TOKEN:-none}'}\nmetrics: {a: {}}\n"
    assert error_of(text, {"GITHUB_TOKEN": "ghs_x"}).startswith(
        ".github/ml-gate.yml, line 1, key `tracker.experiment`: ${GITHUB_TOKEN} is refused: "
        "its name contains TOKEN,"
    )


def test_ordinary_variables_still_interpolate() -> None:
    text = (
        "tracker: {uri: '${MLFLOW_TRACKING_URI}', experiment: '${EXPERIMENT}'}\nmetrics: {a: {}}\n"
    )
    env = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "EXPERIMENT": "iris"}
    tracker = parse_config(text, FILE, env).gate.tracker
    assert (tracker.uri, tracker.experiment) == ("http://mlflow:5000", "iris")


# --- checking without the environment (ml-gate validate) -------------------------------------


def test_lenient_unset_variable_is_a_warning() -> None:
    text = (
        "tracker:\n  uri: ${MLFLOW_TRACKING_URI}\n  experiment: ${EXPERIMENT:-iris}\n"
        "metrics:\n  accuracy: {min: '${MIN_ACCURACY}'}\n"
    )
    loaded = parse_config(text, FILE, {}, lenient=True)
    assert loaded.warnings == (
        ".github/ml-gate.yml, line 2, key `tracker.uri`: ${MLFLOW_TRACKING_URI} is not set "
        "here; it must be set at run time.",
        ".github/ml-gate.yml, line 5, key `metrics.accuracy.min`: ${MIN_ACCURACY} is not set "
        "here; it must be set at run time.",
    )
    assert loaded.gate.tracker.experiment == "iris"
    assert loaded.gate.metrics["accuracy"].min is None  # not known until run time


def test_lenient_still_reports_other_problems() -> None:
    text = (
        "tracker:\n  type: wandb\n  uri: ${WANDB_BASE_URL}\n  experiment: iris\n"
        "metrics:\n  accuracy: {min: '${MIN}', max_regresion: 1}\n"
    )
    assert error_of(text, lenient=True) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 6, key `metrics.accuracy.max_regresion`: unknown key. "
        "Did you mean `max_regression`? Valid keys here: goal, min, max, max_regression, "
        "min_improvement, noise, replicates, test, confidence."
    )
    fixed = text.replace("max_regresion", "max_regression")
    assert error_of(fixed, lenient=True) == (
        "invalid config:\n"
        "  - .github/ml-gate.yml, line 4, key `tracker.experiment`: a W&B experiment is "
        "`entity/project`, got 'iris'.\n"
        "Use the two path parts of the project URL, e.g. `my-team/iris-classifier`."
    )


def test_lenient_refuses_secrets_as_strictly() -> None:
    text = "tracker: {experiment: x}\nmetrics: {a: {}}\ncomment: {title: '${GITHUB_TOKEN}'}\n"
    assert "${GITHUB_TOKEN} is refused" in error_of(text, lenient=True)


def test_strict_load_still_needs_the_variable() -> None:
    text = "tracker:\n  uri: ${MLFLOW_TRACKING_URI}\n  experiment: x\nmetrics: {a: {}}\n"
    assert error_of(text) == (
        ".github/ml-gate.yml, line 2, key `tracker.uri`: environment variable "
        "MLFLOW_TRACKING_URI is not set.\nSet MLFLOW_TRACKING_URI in the step's `env:` or write "
        "`${MLFLOW_TRACKING_URI:-default}` in the config."
    )


def test_load_config_lenient_reads_the_file(tmp_path: Path) -> None:
    config = tmp_path / "ml-gate.yml"
    config.write_text("tracker: {uri: '${MLFLOW_TRACKING_URI}', experiment: x}\nmetrics: {a: {}}\n")
    loaded = load_config(config, {}, lenient=True)
    assert len(loaded.warnings) == 1
    assert load_config(config, {"MLFLOW_TRACKING_URI": "http://m:5000"}).warnings == ()
