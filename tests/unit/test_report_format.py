"""Untrusted text in the comment and the job summary, checked on the HTML GitHub makes of it.

cmark-gfm (the `cmarkgfm` bindings of GitHub's own fork of cmark) renders the Markdown to HTML
with raw HTML kept, as GitHub's renderer does before it sanitises. GitHub then links mentions and
issue references in the HTML's text nodes, after the parser has decoded entities (`&#64;` is an
`@` by then), skipping text inside `a`, `code` and `pre` (html-pipeline's MentionFilter:
`IGNORE_PARENTS = %w(pre code a style script)`, pattern `(?:^|\\W)@[a-z0-9][a-z0-9-]*`; GitHub's
"Autolinked references and URLs" documentation: `#26`, `GH-26`, `owner/repo#26`). The checks
below look for exactly those patterns in exactly those text nodes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from mlaction.github import runner
from mlaction.github.runner import annotation
from mlaction.report.format import CONTROL, md_escape, md_text
from mlaction.report.markdown import render_markdown
from mlaction.report.model import Report
from mlaction.report.terminal import render_terminal

MARKER = "<!-- ml-gate:.github/ml-gate.yml -->"
ATTACK = (
    "@org/admins &#64;org/team #1 owner/repo#2 GH-3 <img src=x> <script>alert(1)</script> "
    "`tick` ``double`` [click](javascript:alert(1)) javascript:alert(1) <a href=x>a</a> "
    "\u202egnp.exe\u200b\ufeff\u2066 user@example.com"
)
MENTION = re.compile(r"(?:^|\W)@[a-z0-9]", re.IGNORECASE)
REFERENCE = re.compile(r"(?:^|\W)#[0-9]|[\w.-]+/[\w.-]+#[0-9]|\bGH-[0-9]", re.IGNORECASE)
# What the package templates produce themselves; anything else came from untrusted text.
ALLOWED_TAGS = {
    "h2", "h3", "p", "strong", "em", "code", "pre", "ul", "li", "blockquote", "details",
    "summary", "sub", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
BIDI = re.compile("[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def evil_report() -> Report:
    """A report (as a fork's workflow could write it) with the attack in every string field."""

    def run(run_id: str) -> dict[str, Any]:
        return {
            "id": run_id + ATTACK,
            "name": ATTACK,
            "url": "https://mlflow.example/#/runs/1",
            "commit": ATTACK,
            "branch": ATTACK,
            "status": ATTACK,
            "metrics": {ATTACK: 1.0},
        }

    check = {
        "name": ATTACK,
        "status": "fail",
        "metric": ATTACK,
        "observed": ATTACK,
        "threshold": ATTACK,
        "message": f"metric `{ATTACK}` is {ATTACK} and `x`",
        "rule": ATTACK,
    }
    metric = {
        "name": ATTACK,
        "candidate": 0.5,
        "baseline": 0.6,
        "rules": ATTACK,
        "status": "fail",
        "trend": [0.5, 0.6],
        "candidate_text": ATTACK,
        "baseline_text": ATTACK,
    }
    data = {
        "verdict": "fail",
        "passed": False,
        "candidate": run("c"),
        "baseline": run("b"),
        "baseline_reason": ATTACK,
        "baseline_model": {"model": ATTACK, "version": ATTACK, "alias": ATTACK},
        "checks": [check, {**check, "status": "warn"}],
        "failed_checks": [ATTACK],
        "metrics": [metric, {**metric, "new_best": True, "rank": 1}],
        "notes": [ATTACK, f"`{ATTACK}`"],
        "tool": ATTACK,
        "title": ATTACK,
        "config": ATTACK,
        "comment_id": ATTACK,
        "run_url": "https://github.example/o/r/actions/runs/1",
        "history_branch": ATTACK,
        "experiment": ATTACK,
        "override": {"label": ATTACK, "by": ATTACK},
        "promotion": {"model": ATTACK, "alias": ATTACK, "action": "failed", "reason": ATTACK},
    }
    return Report.from_json(data)


class _GitHubView(HTMLParser):
    """The HTML's elements, link targets, and the text GitHub scans for mentions/references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities decoded, as GitHub's parser does
        self.tags: set[str] = set()
        self.hrefs: list[str] = []
        self.scanned: list[str] = []
        self._ignored = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src")]
        self._ignored += tag in ("a", "code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self._ignored -= tag in ("a", "code", "pre")

    def handle_data(self, data: str) -> None:
        if not self._ignored:
            self.scanned.append(data)


def github_view(markdown: str) -> _GitHubView:
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    view = _GitHubView()
    view.feed(html)
    return view


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
    assert runner.CONTROL.pattern == CONTROL.pattern
    line = annotation("error", "run \u202egnp.exe\u200b failed\nnext", title="ml-gate: \u2066x")
    assert line == "::error title=ml-gate%3A \\u2066x::run \\u202egnp.exe\\u200b failed%0Anext"
