"""User templates (`comment.template`) render in a child process with hard limits.

Jinja2's SandboxedEnvironment stops attribute walks (`__class__`, `|attr('format')`), not
resources: a loop of 10^10 steps, a 200 MB string or unbounded recursion would hang or kill
the gate. So the template renders in a fresh interpreter with an empty environment (nothing
to leak), a CPU limit, an address-space limit and an output cap; the parent waits a bounded
time. Any way it fails is a ConfigError naming the template.

Inside, Markdown escaping cannot be bypassed: `|e`, `|escape`, `|forceescape`, `|safe` and
`|tojson` are Markdown-safe, `|urlize` and `|xmlattr` (which emit HTML) are absent, `|attr`
refuses `_names` and `format`, and `{% autoescape %}` blocks are refused.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

import mlaction
from mlaction.report.format import md_escape

TIME_LIMIT = 5  # CPU seconds for the render
WALL_LIMIT = 20.0  # seconds the parent waits, interpreter start included
MEMORY_LIMIT = 512 * 1024 * 1024  # bytes of address space
OUTPUT_LIMIT = 1_000_000  # characters (the job summary's size; a comment holds 65,536)


def render_in_child(source: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """("ok", text) or ("error", what went wrong) from rendering `source` in a limited child."""
    payload = json.dumps(
        {"source": source, "context": context, "time": TIME_LIMIT, "memory": MEMORY_LIMIT,
         "output": OUTPUT_LIMIT},
        default=str,
    )  # fmt: skip
    env = {"PYTHONPATH": str(Path(mlaction.__file__).parent.parent), "PYTHONIOENCODING": "utf-8"}
    try:
        done = subprocess.run(
            [sys.executable, "-s", "-m", "mlaction.report.sandbox"],
            input=payload.encode("utf-8"),
            capture_output=True,
            env=env,
            timeout=WALL_LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "error", f"it ran longer than {WALL_LIMIT:g} s"
    try:
        answer = json.loads(done.stdout.decode("utf-8"))
        return str(answer["status"]), str(answer["value"])
    except (ValueError, KeyError, TypeError):
        pass
    if done.returncode in (-9, -24, 128 + 9, 128 + 24):  # SIGKILL / SIGXCPU: the CPU limit
        return "error", f"it ran longer than {TIME_LIMIT:g} s of CPU time"
    return "error", f"the renderer stopped (exit status {done.returncode})"


# --- the child -------------------------------------------------------------------------------


class MarkdownMarkup(Markup):
    """Markup whose `+`, `%`, join() and format() escape the other side for Markdown (plain
    Markup escapes only HTML, which leaves mentions and links alive)."""

    __slots__ = ()

    @classmethod
    def escape(cls, s: Any) -> MarkdownMarkup:
        if isinstance(s, MarkdownMarkup):
            return s
        return cls(md_escape(s, limit=OUTPUT_LIMIT))


def _markdown_safe(value: Any) -> Any:
    if isinstance(value, Markup) and not isinstance(value, MarkdownMarkup):
        return MarkdownMarkup(str(value))
    return value


class UserSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, plus: an unsafe attribute is an error (not a quiet blank), and `*`
    and `**` cannot build a 200 MB string or a number with a billion digits."""

    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > OUTPUT_LIMIT
                ):
                    raise SecurityError(
                        f"`*` would build {len(sequence) * count:,} items (at most "
                        f"{OUTPUT_LIMIT:,})"
                    )
        if operator == "**" and isinstance(right, int) and abs(right) > 1000:
            raise SecurityError(f"`**` with an exponent of {right:,} (at most 1,000)")
        return super().call_binop(context, operator, left, right)


def user_environment() -> UserSandbox:
    """The environment for user templates: every Markup is Markdown-escaped."""
    from mlaction.report.markdown import _environment

    env = _environment(UserSandbox, DictLoader({}))
    assert isinstance(env, UserSandbox)
    for name, function in list(env.filters.items()):
        env.filters[name] = _wrap(function)
    for name in ("urlize", "xmlattr"):  # they emit HTML
        del env.filters[name]

    def attr(value: Any, name: str) -> Any:
        if not isinstance(name, str) or name.startswith("_") or name in {"format", "format_map"}:
            raise SecurityError(f"access to attribute {name!r} is not allowed")
        return env.getattr(value, name)

    env.filters.update(
        e=MarkdownMarkup.escape,
        escape=MarkdownMarkup.escape,
        forceescape=MarkdownMarkup.escape,
        safe=lambda value: _markdown_safe(value) if isinstance(value, Markup) else
        MarkdownMarkup.escape(value),
        tojson=lambda value, indent=None: MarkdownMarkup.escape(
            json.dumps(value, indent=indent, default=str)
        ),
        attr=attr,
    )  # fmt: skip
    return env


def _wrap(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja2's pass_context / pass_environment marks
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _markdown_safe(function(*args, **kwargs))

    return wrapped


def _checked(env: UserSandbox, source: str) -> str:
    """Refuse `{% autoescape %}`: with it on, Markup joins escape HTML but not Markdown."""
    if any(True for _ in env.parse(source).find_all((nodes.EvalContextModifier,))):
        raise SecurityError("{% autoescape %} blocks are not supported in comment templates")
    return source


def _limit(time_limit: int, memory: int) -> None:
    import resource

    for kind, value in ((resource.RLIMIT_CPU, time_limit), (resource.RLIMIT_AS, memory)):
        # A platform without the limit keeps the parent's wall-clock bound.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (value, value + (kind == resource.RLIMIT_CPU)))


def _child(request: dict[str, Any]) -> tuple[str, str]:
    _limit(int(request["time"]), int(request["memory"]))
    try:
        env = user_environment()
        template = env.from_string(_checked(env, request["source"]))
        out: list[str] = []
        size = 0
        for chunk in template.generate(request["context"]):
            size += len(chunk)
            if size > int(request["output"]):
                return "error", f"its output is longer than {int(request['output']):,} characters"
            out.append(chunk)
        return "ok", "".join(out)
    except TemplateSyntaxError as exc:
        return "error", f"line {exc.lineno}: {exc.message}"  # the parent names the file first
    except SecurityError as exc:
        return "error", f"not allowed in the sandbox: {exc}"
    except TemplateError as exc:
        return "error", str(exc)
    except RecursionError:
        return "error", "it recurses too deeply"
    except MemoryError:
        return "error", f"it needs more than {int(request['memory']) // 2**20} MB of memory"
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def main() -> int:
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    status, value = _child(request)
    sys.stdout.write(json.dumps({"status": status, "value": value}))
    return 0


if __name__ == "__main__":
    os.environ.clear()
    sys.exit(main())
