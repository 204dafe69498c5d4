"""`comment.template` is a small regular file inside the repository, named relative to the
config's directory: a config cannot post /proc/self/environ or a file of the runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlaction.config import LoadedConfig, load_config, parse_config
from mlaction.errors import ConfigError

FILE = Path(".github/ml-gate.yml")
BASE = "tracker: {experiment: x}\nmetrics: {a: {min: 0.5}}\ncomment:\n"
HINT = (
    "Put the template in the repository, next to the config or below it, and name it "
    "relative to the config file's directory."
)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, FILE, {})
    return str(caught.value)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (
            "../../../proc/self/environ",
            "the template path may not contain `..`, got '../../../proc/self/environ'.",
        ),
        ("a/../../x.j2", "the template path may not contain `..`, got 'a/../../x.j2'."),
        (
            "/proc/self/environ",
            "the template path must be relative to the config file's directory, "
            "got '/proc/self/environ'.",
        ),
        (
            "C:/secrets.txt",
            "the template path must be relative to the config file's directory, "
            "got 'C:/secrets.txt'.",
        ),
        ("' '", "the template path is empty."),
    ],
)  # fmt: skip
def test_template_path_as_written_is_checked_with_its_line(template: str, problem: str) -> None:
    assert error_of(BASE + f"  template: {template}\n") == (
        f"invalid config:\n  - .github/ml-gate.yml, line 4, key `comment.template`: {problem}"
    )


def repository(tmp_path: Path, template: str) -> Path:
    """A repository with .github/ml-gate.yml naming `template`; returns the config path."""
    config = tmp_path / "repo" / ".github" / "ml-gate.yml"
    config.parent.mkdir(parents=True)
    config.write_text(BASE + f"  template: {template}\n")
    return config


def test_template_inside_the_repository_resolves(tmp_path: Path) -> None:
    config = repository(tmp_path, "comment.md.j2")
    (config.parent / "comment.md.j2").write_text("{{ verdict }}\n")
    loaded = load_config(config, {})
    root = tmp_path / "repo"
    found = LoadedConfig(loaded.path, loaded.gate, root=root, lines=loaded.lines).template_file()
    assert found == (config.parent / "comment.md.j2").resolve()


def test_no_template_is_none(tmp_path: Path) -> None:
    loaded = parse_config("tracker: {experiment: x}\nmetrics: {a: {}}\n", FILE, {})
    assert loaded.template_file() is None


def test_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    config = repository(tmp_path, "comment.md.j2")
    outside = tmp_path / "runner-secrets.txt"
    outside.write_text("hunter2\n")
    (config.parent / "comment.md.j2").symlink_to(outside)
    loaded = load_config(config, {})
    with pytest.raises(ConfigError) as caught:
        LoadedConfig(
            config, loaded.gate, root=tmp_path / "repo", lines=loaded.lines
        ).template_file()
    assert str(caught.value) == (
        f"{config}, line 4, key `comment.template`: template comment.md.j2 resolves to "
        f"{outside.resolve()}, outside the repository {(tmp_path / 'repo').resolve()}.\n{HINT}"
    )
    assert "hunter2" not in str(caught.value)


def test_symlink_to_proc_is_refused(tmp_path: Path) -> None:
    config = repository(tmp_path, "environ.j2")
    (config.parent / "environ.j2").symlink_to("/proc/self/environ")
    loaded = load_config(config, {})
    with pytest.raises(ConfigError, match="outside the repository"):
        LoadedConfig(
            config, loaded.gate, root=tmp_path / "repo", lines=loaded.lines
        ).template_file()


def test_root_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = repository(tmp_path, "comment.md.j2")
    (config.parent / "comment.md.j2").write_text("x\n")
    monkeypatch.chdir(tmp_path / "repo")
    assert load_config(".github/ml-gate.yml", {}).template_file() is not None
    monkeypatch.chdir(config.parent.parent / ".github")  # the template is still below it
    assert load_config("ml-gate.yml", {}).template_file() is not None
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError, match="outside the repository"):
        load_config(config, {}).template_file()


def test_missing_directory_and_oversized_templates(tmp_path: Path) -> None:
    config = repository(tmp_path, "comment.md.j2")
    root = tmp_path / "repo"
    loaded = load_config(config, {})

    def problem() -> str:
        with pytest.raises(ConfigError) as caught:
            LoadedConfig(config, loaded.gate, root=root, lines=loaded.lines).template_file()
        return str(caught.value)

    where = f"{config}, line 4, key `comment.template`"
    assert problem() == f"{where}: template comment.md.j2 not found next to {config}.\n{HINT}"
    (config.parent / "comment.md.j2").mkdir()
    assert problem() == f"{where}: template comment.md.j2 is not a regular file.\n{HINT}"
    (config.parent / "comment.md.j2").rmdir()
    (config.parent / "comment.md.j2").write_bytes(b"x" * 100_001)
    assert problem() == (
        f"{where}: template comment.md.j2 is 100,001 bytes; a comment template may be at most "
        "100,000."
    )


def test_fifo_is_not_read(tmp_path: Path) -> None:
    config = repository(tmp_path, "comment.md.j2")
    os.mkfifo(config.parent / "comment.md.j2")  # reading it would block forever
    loaded = load_config(config, {})
    with pytest.raises(ConfigError, match="is not a regular file"):
        LoadedConfig(
            config, loaded.gate, root=tmp_path / "repo", lines=loaded.lines
        ).template_file()


def test_lenient_loading_checks_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = repository(tmp_path, "missing.j2")
    monkeypatch.chdir(tmp_path / "repo")
    load_config(config, {})  # a strict load leaves the file to the run
    with pytest.raises(ConfigError, match=r"template missing\.j2 not found"):
        load_config(config, {}, lenient=True)
