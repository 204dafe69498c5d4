"""Where `comment.template` may come from: a small regular file inside the repository.

The path is relative to the config file's directory. It may not be absolute, contain `..`,
or resolve (through a symbolic link) outside the repository root, so a config cannot post
`/proc/self/environ` or a file of the runner as the comment.
"""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from mlaction.errors import ConfigError

TEMPLATE_MAX_BYTES = 100_000  # a comment holds 65,536 characters; a template needs no more


def template_path_problem(value: str) -> str | None:
    """What is wrong with the template path as written (before looking at any file)."""
    if not value.strip():
        return "the template path is empty"
    if (
        PurePosixPath(value).is_absolute()
        or PureWindowsPath(value).is_absolute()
        or value.startswith(("/", "\\"))
        or PureWindowsPath(value).drive
    ):
        return f"the template path must be relative to the config file's directory, got {value!r}"
    if ".." in value.replace("\\", "/").split("/"):
        return f"the template path may not contain `..`, got {value!r}"
    return None


def resolve_template(value: str, config: Path, root: Path | None, where: str) -> Path:
    """The template's resolved path, checked: inside `root` (default: the cwd), a regular
    file, at most TEMPLATE_MAX_BYTES. `where` names the config key in messages."""
    hint = (
        "Put the template in the repository, next to the config or below it, and name it "
        "relative to the config file's directory."
    )
    problem = template_path_problem(value)
    if problem is not None:
        raise ConfigError(f"{where}: {problem}.", hint=hint)
    top = (root or Path.cwd()).resolve()
    try:
        resolved = (config.absolute().parent / value).resolve(strict=True)
    except (OSError, RuntimeError):
        raise ConfigError(
            f"{where}: template {value} not found next to {config}.", hint=hint
        ) from None
    if not resolved.is_relative_to(top):
        raise ConfigError(
            f"{where}: template {value} resolves to {resolved}, outside the repository {top}.",
            hint=hint,
        )
    try:
        info = resolved.stat()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read template {value}: {exc.strerror}.") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{where}: template {value} is not a regular file.", hint=hint)
    if info.st_size > TEMPLATE_MAX_BYTES:
        raise ConfigError(
            f"{where}: template {value} is {info.st_size:,} bytes; a comment template may be "
            f"at most {TEMPLATE_MAX_BYTES:,}."
        )
    return resolved
