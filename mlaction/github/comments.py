"""The sticky PR comment: one comment per gate, found by its marker and its author, edited in
place; and the identity of the token that authors it.

Identity, the way GitHub lets each kind of token learn it: GraphQL `viewer { login }` answers for
personal tokens, GitHub App installation tokens (`<app-slug>[bot]`) and the workflow token
(`github-actions[bot]`); `GET /user` answers only for user tokens ("Resource not accessible by
integration" otherwise); and the 201 reply to a created comment carries `user.login`. The
`comment-author` input overrides all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import requests

from mlaction.github.transport import GitHubAPIError, Transport, _as_dict, _decode

log = logging.getLogger(__name__)

WORKFLOW_BOT = "github-actions[bot]"
VIEWER_QUERY = "query { viewer { login } }"


@dataclass(frozen=True)
class CommentResult:
    action: Literal["created", "updated", "unchanged", "skipped"]
    url: str | None
    id: int | None
    warnings: tuple[str, ...] = ()


class IdentityAPI(Transport):
    """Who the token is (`login`: given, e.g. the `comment-author` input, or learned)."""

    def __init__(self, token: str, *, login: str | None = None, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self._login: str | None = login or None
        self._guessed = False  # the login is an assumption, not something GitHub said
        self.warnings: list[str] = []

    @property
    def graphql_url(self) -> str:
        # api.github.com -> api.github.com/graphql; GHES https://HOST/api/v3 -> .../api/graphql
        base = self.api_url.removesuffix("/v3")
        return f"{base}/graphql"

    def whoami(self) -> str:
        """The login comments are authored as; warns when it had to be assumed."""
        if self._login is None:
            self._login = self._viewer_login() or self._user_login()
        if self._login is None:
            self._login, self._guessed = WORKFLOW_BOT, True
            self._warn(
                "Could not learn the GitHub token's identity (GraphQL `viewer` and `/user` were "
                f"refused); assuming comments are authored by `{WORKFLOW_BOT}`. Set the "
                "`comment-author` input to the token's login (a GitHub App: `<app-slug>[bot]`) "
                "so the comment is edited in place instead of posted again."
            )
        return self._login

    def learned_from_reply(self, comment: dict[str, Any]) -> None:
        """A created comment's `user.login` is who we are; say so when we had guessed wrong."""
        login = str((comment.get("user") or {}).get("login") or "")
        if not login or login.lower() == (self._login or "").lower():
            return
        if self._guessed:
            self._warn(
                f"The comment was authored by `{login}`, not the assumed `{self._login}`: set "
                f"`comment-author: {login}` so later runs edit it instead of posting again."
            )
        self._login, self._guessed = login, False

    def _viewer_login(self) -> str | None:
        what = "read the token's identity (GraphQL viewer)"
        try:
            response = self._request(
                "POST", self.graphql_url, json={"query": VIEWER_QUERY}, what=what
            )
            data = _as_dict(_decode(response, what), what)
        except GitHubAPIError as exc:
            if exc.status in (401,):
                raise
            log.debug("GraphQL viewer refused: %s", exc.status)
            return None
        login = ((data.get("data") or {}).get("viewer") or {}).get("login")
        return str(login) if isinstance(login, str) and login else None

    def _user_login(self) -> str | None:
        try:
            user = self._json("GET", "/user", what="read the token's user")
        except GitHubAPIError as exc:
            if exc.status != 403:
                raise
            return None
        login = user.get("login")
        return str(login) if isinstance(login, str) and login else None

    def _warn(self, text: str) -> None:
        log.warning("%s", text)
        self.warnings.append(text)


class CommentsAPI(IdentityAPI):
    """Issue comments of one repository, and the sticky comment built on them."""

    def list_issue_comments(self, pr: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, following `Link: rel="next"`."""
        return self._list(
            f"{self.repo_path}/issues/{pr}/comments", f"list the comments of pull request #{pr}"
        )

    def create_comment(self, pr: int, body: str) -> dict[str, Any]:
        return self._json(
            "POST",
            f"{self.repo_path}/issues/{pr}/comments",
            json={"body": body},
            what=f"create a comment on pull request #{pr}",
        )

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self._json(
            "PATCH",
            f"{self.repo_path}/issues/comments/{comment_id}",
            json={"body": body},
            what=f"update comment {comment_id}",
        )

    def upsert_comment(
        self, pr: int, marker: str, body: str, *, create: bool = True
    ) -> CommentResult:
        """Edit our comment carrying `marker` in place, or create it (when `create`).

        "Ours" means the body starts with `marker` and the author is this token's identity: a
        comment by anyone else, or one that merely quotes the marker, is never touched. When
        several of ours exist, the newest is updated and the others are left alone. A body that
        does not start with the marker gets it prepended, so the next run finds the comment.
        """
        if not marker.strip():
            raise ValueError("the comment marker must not be empty")
        if not body.startswith(marker):
            body = f"{marker}\n{body}"
        me = self.whoami()
        ours = self._ours(pr, marker, me)
        if ours:
            newest = max(ours, key=lambda c: (str(c.get("created_at") or ""), int(c["id"])))
            if _normalise(str(newest.get("body") or "")) == _normalise(body):
                return self._result("unchanged", newest)
            return self._result("updated", self.update_comment(int(newest["id"]), body))
        if not create:
            return CommentResult("skipped", None, None, tuple(self.warnings))
        created = self._create_once(pr, marker, body)
        self.learned_from_reply(created)
        return self._result("created", created)

    def _result(self, action: Any, comment: dict[str, Any]) -> CommentResult:
        url = comment.get("html_url")
        return CommentResult(
            action, str(url) if url else None, int(comment["id"]), tuple(self.warnings)
        )

    def _ours(self, pr: int, marker: str, me: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.list_issue_comments(pr)
            if str(c.get("body") or "").startswith(marker)
            and str((c.get("user") or {}).get("login", "")).lower() == me.lower()
        ]

    def _create_once(self, pr: int, marker: str, body: str) -> dict[str, Any]:
        """Create the comment, retrying 5xx, lost connections and rate limits (429, or 403 with
        a secondary-limit answer), and never posting it twice: before every new POST, look for
        the comment the failed one may have created."""
        what = f"create a comment on pull request #{pr}"
        url = f"{self.api_url}{self.repo_path}/issues/{pr}/comments"

        def once(n: int) -> dict[str, Any]:
            response: requests.Response = self._attempt(
                "POST", url, what=what, params=None, json={"body": body}, n=n
            )
            return _as_dict(_decode(response, what), what)

        def landed() -> dict[str, Any] | None:
            me = self.whoami().lower()
            same = [
                c
                for c in self.list_issue_comments(pr)
                if _normalise(str(c.get("body") or "")) == _normalise(body)
                # an assumed identity may be wrong: then the exact body is what identifies it
                and (self._guessed or str((c.get("user") or {}).get("login", "")).lower() == me)
            ]
            return max(same, key=lambda c: int(c["id"])) if same else None

        return self._retrying(what, once, recover=landed)


def _normalise(body: str) -> str:
    return body.replace("\r\n", "\n").strip()
