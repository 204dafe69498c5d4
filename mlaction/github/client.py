"""The GitHub REST client ml-gate uses: one object for one repository and one token.

The concepts live in their own modules: transport.py (HTTP, retries, rate limits, errors),
comments.py (identity and the sticky PR comment), checks.py (check runs), repo.py (pull
requests, commits, history).
This module knows no tracker and no report: it posts the text it is given.
"""

from __future__ import annotations

from mlaction.github.checks import CheckRunsAPI
from mlaction.github.comments import WORKFLOW_BOT, CommentResult, CommentsAPI
from mlaction.github.repo import RepoAPI
from mlaction.github.transport import FORK_DOC, GitHubAPIError

__all__ = ["FORK_DOC", "WORKFLOW_BOT", "CommentResult", "GitHubAPIError", "GitHubClient"]


class GitHubClient(CommentsAPI, RepoAPI, CheckRunsAPI):
    """Comments, check runs, pull requests and commits of one repository, with bounded retries.

    `GitHubClient(token, repository="o/r", api_url=..., login=None, timeout=10.0,
    max_retries=4, max_total_wait=60.0, session=None, sleep=time.sleep)`; `login` is the
    `comment-author` override of the token's identity.
    """
