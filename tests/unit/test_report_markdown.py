"""User comment templates: bounded time, memory and output; no sandbox escape; no way around
Markdown escaping. Each failure is a ConfigError naming the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaction.errors import ConfigError
from mlaction.report import sandbox
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report

CANARY = "canary-7f3a9c-secret"
UNTRUSTED = "@org/admins <b>bold</b> [x](https://evil.example) `tick`"
REPORT = Report.from_json(
    {"verdict": "pass", "passed": True, "candidate": {"name": UNTRUSTED, "id": "r1"}, "checks": []}
)
HINT = (
    "A comment template renders in a sandbox with limits on time (1 s), memory (512 MB) and "
    "output (1,000,000 characters)."
)


@pytest.fixture(autouse=True)
def _quick_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "TIME_LIMIT", 1)
    monkeypatch.setenv("ML_GATE_CANARY", CANARY)


def render(tmp_path: Path, source: str) -> str:
    template = tmp_path / "comment.md.j2"
    template.write_text(source)
    return render_markdown(REPORT, user_template=template)


def refusal(tmp_path: Path, source: str) -> str:
    with pytest.raises(ConfigError) as caught:
        render(tmp_path, source)
    message = str(caught.value)
    assert CANARY not in message
    return message


# --- resources -------------------------------------------------------------------------------


def test_a_loop_of_ten_billion_steps_is_stopped(tmp_path: Path) -> None:
    source = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    assert refusal(tmp_path, source) == (
        f"comment.template {tmp_path / 'comment.md.j2'}: it ran longer than 1 s of CPU time.\n"
        + HINT
    )


def test_a_200_mb_string_is_stopped(tmp_path: Path) -> None:
    assert refusal(tmp_path, '{{ "x" * 200000000 }}') == (
        f"comment.template {tmp_path / 'comment.md.j2'}: not allowed in the sandbox: `*` would "
        "build 200,000,000 items (at most 1,000,000).\n" + HINT
    )
    assert "`**` with an exponent" in refusal(tmp_path, "{{ 2 ** 100000000 }}")


def test_output_is_capped(tmp_path: Path) -> None:
    source = '{% for i in range(100000) %}{{ "x" * 20 }}{% endfor %}'
    assert refusal(tmp_path, source) == (
        f"comment.template {tmp_path / 'comment.md.j2'}: its output is longer than 1,000,000 "
        "characters.\n" + HINT
    )


def test_memory_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "TIME_LIMIT", 10)  # filling 512 MB takes a while on a busy host
    source = (
        "{% set held = [] %}{% for i in range(100000) %}"
        '{% set _ = held.append("x" * 1000000) %}{% endfor %}{{ held|length }}'
    )
    assert refusal(tmp_path, source) == (
        f"comment.template {tmp_path / 'comment.md.j2'}: it needs more than 512 MB of memory.\n"
        + HINT.replace("(1 s)", "(10 s)")
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% for x in [[1]] recursive %}{{ loop([[1]]) }}{% endfor %}",
    ],
)
def test_recursion_is_a_config_error(tmp_path: Path, source: str) -> None:
    assert refusal(tmp_path, source) == (
        f"comment.template {tmp_path / 'comment.md.j2'}: it recurses too deeply.\n" + HINT
    )


def test_a_template_error_of_its_own_is_a_config_error(tmp_path: Path) -> None:
    assert refusal(tmp_path, "{{ 1 / 0 }}") == (
        f"comment.template {tmp_path / 'comment.md.j2'}: ZeroDivisionError: division by zero.\n"
        + HINT
    )


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    assert refusal(tmp_path, "ok\n{% if %}") == (
        f"comment.template {tmp_path / 'comment.md.j2'}, line 2: Expected an expression, got "
        "'end of statement block'."
    )


def test_a_fifo_is_never_read(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "comment.md.j2"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):
        render_markdown(REPORT, user_template=fifo)


# --- sandbox escapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.environ }}",
        "{{ lipsum.__globals__['os'].environ }}",
        "{{ self._TemplateReference__context }}",
        "{{ namespace.__init__.__globals__ }}",
        # CVE-2025-27516: str.format reached through |attr escapes Jinja2 3.1.5's sandbox
        "{{ '{0.__init__.__globals__[os].environ}'|attr('format')(cycler) }}",
        "{{ ('{0.__class__}'|attr('format_map'))({'0': 1}) }}",
        "{{ cycler|attr('__init__')|attr('__globals__') }}",
        "{{ '{0.__init__.__globals__}'.format(cycler) }}",
        "{% autoescape true %}{{ candidate.name }}{% endautoescape %}",
    ],
)
def test_sandbox_escapes_fail_and_leak_nothing(tmp_path: Path, source: str) -> None:
    message = refusal(tmp_path, source)
    assert "not allowed in the sandbox" in message
    assert "environ" not in message.split(":", 1)[1].replace(source, "")


def test_the_environment_is_not_there_to_leak(tmp_path: Path) -> None:
    # Even a sandbox escape would find an empty environment in the renderer.
    assert CANARY not in render(tmp_path, "{{ lipsum(1) }}")


# --- Markdown escaping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ candidate.name }}",
        "{{ candidate.name|e }}",
        "{{ candidate.name|escape }}",
        "{{ candidate.name|forceescape }}",
        "{{ candidate.name|safe }}",
        "{{ candidate|tojson }}",
        "{{ candidate.name|string|safe }}",
        "{{ ('**' ~ 'ok'|e) + candidate.name }}",
        "{{ ('x'|text) + candidate.name }}",
        "{{ ('%s'|safe) % candidate.name }}",
        "{{ ('{}'|e).format(candidate.name) }}",
        "{{ ('-'|e).join([candidate.name, candidate.name]) }}",
        "{{ candidate.name|e|indent(2) }}",
    ],
)
def test_no_filter_bypasses_markdown_escaping(tmp_path: Path, source: str) -> None:
    text = render(tmp_path, source)
    assert "@org" not in text
    assert "<b>" not in text
    assert "](https://" not in text
    assert "@\u200dorg/admins" in text


def test_html_filters_are_not_offered(tmp_path: Path) -> None:
    assert "No filter named 'urlize'" in refusal(tmp_path, "{{ candidate.name|urlize }}")
    assert "No filter named 'xmlattr'" in refusal(tmp_path, "{{ {'a': 1}|xmlattr }}")


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    source = (
        "## {{ icons[verdict] }} {{ verdict|upper }}\n"
        "{% for k, v in candidate|dictsort if k in ('id', 'name') %}"
        "- {{ k }}: {{ v }}\n{% endfor %}"
        "{{ [1, 2, 3]|map('string')|join(', ') }} {{ candidate.name|text }}"
    )
    assert render(tmp_path, source) == (
        "## ✅ PASS\n- id: r1\n- name: @\u200dorg/admins &lt;b&gt;bold&lt;/b&gt; "
        "\\[x\\](https&#58;//evil.example) \\`tick\\`\n1, 2, 3 "
        "@\u200dorg/admins &lt;b&gt;bold&lt;/b&gt; \\[x\\](https&#58;//evil.example) "
        "<code>tick</code>"
    )
