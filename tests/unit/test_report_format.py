"""Untrusted text in the comment and the job summary, checked on the HTML GitHub makes of it
(tests/github_html.py: cmark-gfm, then the text GitHub scans for mentions and references)."""

from __future__ import annotations

import re

import pytest
from github_html import ALLOWED_TAGS, BIDI, MENTION, REFERENCE, evil_report_json, github_view

from mlaction.github.runner import annotation
from mlaction.report.format import md_escape, md_text
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report
from mlaction.report.terminal import render_terminal

MARKER = "<!-- ml-gate:.github/ml-gate.yml -->"


def evil_report() -> Report:
    return Report.from_json(evil_report_json())


@pytest.mark.parametrize("kind", ["comment", "summary"])
def test_no_mention_reference_link_or_html_survives_github(kind: str) -> None:
    report = evil_report()
    if kind == "summary":
        markdown = render_markdown(report, template="summary.md.j2", summary=True)
    else:
        markdown = render_markdown(report, marker=MARKER)
    view = github_view(markdown)

    text = "\n".join(view.scanned)
    assert "org/admins" in text  # the attack is shown...
    assert not MENTION.findall(text)  # ...but pings nobody
    assert not REFERENCE.findall(text)  # and links no issue
    assert view.tags <= ALLOWED_TAGS, view.tags - ALLOWED_TAGS
    assert all(re.match(r"https://[a-z.]+\.example/", href) for href in view.hrefs), view.hrefs
    assert not BIDI.search(markdown)


def test_html_entities_are_not_enough() -> None:
    """`&#64;org/team` is an `@` in GitHub's text nodes: the escape must survive decoding."""
    view = github_view(f"| {md_escape('&#64;org/team and @org/team')} |")
    text = "".join(view.scanned)
    assert "org/team" in text
    assert not MENTION.findall(text)


def test_references_are_broken_but_read_the_same() -> None:
    escaped = md_escape("#12 owner/repo#2 gh-3 @dev")
    assert escaped.replace("\u200d", "") == "#12 owner/repo#2 gh-3 @dev"
    assert not REFERENCE.findall(escaped)
    assert not MENTION.findall(escaped)


def test_backticks_in_untrusted_text_cannot_open_or_close_code() -> None:
    """A name's backticks are escaped: outside ml-gate's own code spans nothing turns to code."""
    view = github_view(md_escape("a `b` ``c`` d"))
    assert "code" not in view.tags
    assert "".join(view.scanned).strip() == "a `b` ``c`` d"
    spans = github_view(str(md_text("metric `x` is missing")))
    assert "code" in spans.tags  # ml-gate's own span still renders


def test_bidi_and_zero_width_characters_are_removed() -> None:
    name = "safe\u202eexe.txt\u200b\u2066x\u2069\ufeff"
    assert not BIDI.search(md_escape(name))
    assert not BIDI.search(str(md_text(f"run `{name}` failed")))
    terminal = render_terminal(evil_report().to_json())
    assert not BIDI.search(terminal)


def test_annotations_show_invisible_characters_escaped() -> None:
    line = annotation("error", "run \u202egnp.exe\u200b failed\nnext", title="ml-gate: \u2066x")
    assert line == "::error title=ml-gate%3A \\u2066x::run \\u202egnp.exe\\u200b failed%0Anext"
