"""The tracker registry: the environment's credentials go only to the environment's server."""

from __future__ import annotations

import pytest

from mlaction.config import TrackerConfig
from mlaction.errors import ConfigError
from mlaction.trackers import build_tracker, check_credentials

HINT_MLFLOW = (
    "Remove `tracker.uri` to use MLFLOW_TRACKING_URI, set MLFLOW_TRACKING_URI to the same "
    "server, or, if the config is trusted (never one a pull request can change), set "
    "`tracker.send_credentials_to_config_uri: true` (see docs/security.md)."
)


def mlflow(uri: str | None, **extra: object) -> TrackerConfig:
    return TrackerConfig.model_validate({"type": "mlflow", "uri": uri, "experiment": "x", **extra})


def wandb(uri: str | None, **extra: object) -> TrackerConfig:
    return TrackerConfig.model_validate({"type": "wandb", "uri": uri, "experiment": "a/b", **extra})


def refusal(config: TrackerConfig, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        build_tracker(config, env)  # refused before any SDK is imported or any server contacted
    return str(caught.value)


def test_mlflow_token_is_not_sent_to_another_host() -> None:
    env = {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com",
        "MLFLOW_TRACKING_TOKEN": "tok-123",
    }
    message = refusal(mlflow("https://collector.attacker.example/api"), env)
    assert message == (
        "tracker.uri names https://collector.attacker.example, but the credentials in the "
        "environment (MLFLOW_TRACKING_TOKEN) are for MLFLOW_TRACKING_URI "
        "(https://mlflow.example.com): ml-gate does not send them to another server.\n"
        + HINT_MLFLOW
    )
    assert "tok-123" not in message


def test_mlflow_basic_auth_without_a_server_in_the_environment() -> None:
    env = {"MLFLOW_TRACKING_USERNAME": "bot", "MLFLOW_TRACKING_PASSWORD": "pw"}
    assert refusal(mlflow("http://user:hidden@10.0.0.5:5000/x?y=1"), env) == (
        "tracker.uri names http://10.0.0.5:5000, but the credentials in the environment "
        "(MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD) are for no server "
        "(MLFLOW_TRACKING_URI is not set): ml-gate does not send them to another server.\n"
        + HINT_MLFLOW
    )


@pytest.mark.parametrize(
    ("config_uri", "env_uri"),
    [
        ("http://other:5000", "http://mlflow:5000"),
        ("http://mlflow:5001", "http://mlflow:5000"),
        ("http://mlflow.example.com", "https://mlflow.example.com"),  # no downgrade to http
    ],
)
def test_any_other_origin_is_another_server(config_uri: str, env_uri: str) -> None:
    env = {"MLFLOW_TRACKING_URI": env_uri, "MLFLOW_TRACKING_TOKEN": "t"}
    assert "ml-gate does not send them" in refusal(mlflow(config_uri), env)


TOKEN = {"MLFLOW_TRACKING_TOKEN": "t"}
KEY = {"WANDB_API_KEY": "k"}


@pytest.mark.parametrize(
    ("config", "env"),
    [
        # the same server, spelled differently
        (mlflow("HTTPS://MLflow.example.com:443/"), {**TOKEN, "MLFLOW_TRACKING_URI": "https://mlflow.example.com/x"}),
        # no uri in the config: the environment's server
        (mlflow(None), {**TOKEN, "MLFLOW_TRACKING_URI": "https://mlflow.example.com"}),
        # no credentials in the environment
        (mlflow("http://anywhere:5000"), {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}),
        (mlflow("http://anywhere:5000"), {"MLFLOW_TRACKING_TOKEN": " "}),
        # not an HTTP server: nothing is sent to it
        (mlflow("sqlite:///mlflow.db"), {**TOKEN, "MLFLOW_TRACKING_URI": "http://mlflow:5000"}),
        (mlflow("databricks"), TOKEN),
        # the trusted config's explicit choice
        (mlflow("http://other:5000", send_credentials_to_config_uri=True), TOKEN),
        (wandb("https://wandb.corp.example", send_credentials_to_config_uri=True), KEY),
        (wandb("https://api.wandb.ai"), KEY),
        (wandb("http://wandb.local:8080"), {**KEY, "WANDB_BASE_URL": "http://wandb.local:8080/"}),
    ],
)  # fmt: skip
def test_allowed(config: TrackerConfig, env: dict[str, str]) -> None:
    check_credentials(config, env)


def test_wandb_key_is_for_the_default_host_unless_the_environment_says_otherwise() -> None:
    assert refusal(wandb("https://wandb.attacker.example"), {"WANDB_API_KEY": "k" * 40}) == (
        "tracker.uri names https://wandb.attacker.example, but the credentials in the "
        "environment (WANDB_API_KEY) are for https://api.wandb.ai (WANDB_BASE_URL is not set): "
        "ml-gate does not send them to another server.\n"
        "Remove `tracker.uri` to use WANDB_BASE_URL, set WANDB_BASE_URL to the same server, "
        "or, if the config is trusted (never one a pull request can change), set "
        "`tracker.send_credentials_to_config_uri: true` (see docs/security.md)."
    )
    env = {"WANDB_API_KEY": "k", "WANDB_BASE_URL": "http://wandb.local:8080"}
    assert "are for WANDB_BASE_URL (http://wandb.local:8080)" in refusal(
        wandb("https://api.wandb.ai"), env
    )


def test_the_opt_in_is_a_config_key() -> None:
    assert mlflow("http://x:1").send_credentials_to_config_uri is False
    assert mlflow("http://x:1", send_credentials_to_config_uri=True).send_credentials_to_config_uri
