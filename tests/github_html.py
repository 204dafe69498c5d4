"""What GitHub makes of Markdown: cmark-gfm's HTML, then the text it scans for mentions.

cmark-gfm (the `cmarkgfm` bindings of GitHub's own fork of cmark) renders the Markdown to HTML
with raw HTML kept, as GitHub's renderer does before it sanitises. GitHub then links mentions and
issue references in the HTML's text nodes, after the parser has decoded entities (`&#64;` is an
`@` by then), skipping text inside `a`, `code` and `pre` (html-pipeline's MentionFilter:
`IGNORE_PARENTS = %w(pre code a style script)`, pattern `(?:^|\\W)@[a-z0-9][a-z0-9-]*`; GitHub's
"Autolinked references and URLs" documentation: `#26`, `GH-26`, `owner/repo#26`). MENTION and
REFERENCE look for exactly those patterns in exactly those text nodes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import cmarkgfm
from cmarkgfm.cmark import Options

MENTION = re.compile(r"(?:^|\W)@[a-z0-9]", re.IGNORECASE)
REFERENCE = re.compile(r"(?:^|\W)#[0-9]|[\w.-]+/[\w.-]+#[0-9]|\bGH-[0-9]", re.IGNORECASE)
# What the package templates produce themselves; anything else came from untrusted text.
ALLOWED_TAGS = {
    "h2", "h3", "p", "strong", "em", "code", "pre", "ul", "li", "blockquote", "details",
    "summary", "sub", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
BIDI = re.compile("[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


ATTACK = (
    "@org/admins &#64;org/team #1 owner/repo#2 GH-3 <img src=x> <script>alert(1)</script> "
    "`tick` ``double`` [click](javascript:alert(1)) javascript:alert(1) <a href=x>a</a> "
    "\u202egnp.exe\u200b\ufeff\u2066 user@example.com"
)


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


def evil_report_json() -> dict[str, Any]:
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
        "baseline_value": None,
        "violated": True,
        "unit": None,
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
        "goal": "maximize",
        "delta": None,
        "delta_pct": None,
        "new_best": False,
        "rank": None,
        "band": None,
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
        "promotion": {
            "model": ATTACK,
            "alias": ATTACK,
            "action": "failed",
            "version": None,
            "previous": None,
            "reason": ATTACK,
        },
    }
    return data
