"""Configs the CLI must refuse or check without their environment (`validate`, `check`)."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import ml_gate
from mlflow_helpers import RunLogger

SHA = "e" * 40


def test_validate_the_starter_without_its_environment(tmp_path: Path) -> None:
    assert ml_gate("init", cwd=tmp_path).returncode == 0
    done = ml_gate("validate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "warning: .github/ml-gate.yml, line 5, key `tracker.uri`: ${MLFLOW_TRACKING_URI} is not "
        "set here; it must be set at run time.\n"
    )
    assert done.stdout.startswith(".github/ml-gate.yml: OK — mlflow experiment `my-experiment`")


def test_validate_catches_what_check_would_refuse(tmp_path: Path) -> None:
    config = tmp_path / "gate.yml"
    config.write_text(
        "tracker:\n  type: wandb\n  uri: ${WANDB_BASE_URL}\n  experiment: iris\n"
        "metrics:\n  accuracy: {min: 0.9}\n"
    )
    done = ml_gate("validate", "--config", "gate.yml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "ml-gate: config error: invalid config:\n"
        "  - gate.yml, line 4, key `tracker.experiment`: a W&B experiment is `entity/project`, "
        "got 'iris'.\n"
    )
    assert "Traceback" not in done.stderr


def test_validate_checks_the_template_file(tmp_path: Path) -> None:
    (tmp_path / "gate.yml").write_text(
        "tracker: {experiment: x}\nmetrics: {a: {min: 1}}\ncomment: {template: comment.j2}\n"
    )
    (tmp_path / "comment.j2").symlink_to("/etc/hostname")
    done = ml_gate("validate", "--config", "gate.yml", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "gate.yml, line 3, key `comment.template`: template comment.j2 resolves to "
        "/etc/hostname, outside the repository" in done.stderr
    )


def test_check_never_renders_a_template_outside_the_repository(
    tmp_path: Path, runs: RunLogger
) -> None:
    runs.log(SHA, metrics={"accuracy": 0.95})
    repo = tmp_path / "repo"
    (repo / ".github").mkdir(parents=True)
    secret = tmp_path / "runner-only.txt"
    secret.write_text("LEAKED {{ verdict }}\n")
    (repo / ".github" / "comment.md.j2").symlink_to(secret)
    (repo / ".github" / "ml-gate.yml").write_text(
        f"tracker:\n  uri: {runs.uri}\n  experiment: {runs.experiment}\n  timeout: 5s\n"
        "metrics:\n  accuracy: {min: 0.9}\ncomment:\n  template: comment.md.j2\n"
    )
    done = ml_gate("check", "--commit", SHA, "--markdown", "-", cwd=repo)
    assert done.returncode == 2, done.stdout
    assert "LEAKED" not in done.stdout + done.stderr
    assert done.stderr.startswith(
        "ml-gate: config error: .github/ml-gate.yml, line 8, key `comment.template`: template "
        f"comment.md.j2 resolves to {secret.resolve()}, outside the repository {repo.resolve()}."
    )
