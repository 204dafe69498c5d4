"""Read-only repository endpoints: pull requests, commits, first-parent history, issue events."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mlaction.github.transport import MAX_PAGES, Transport


class RepoAPI(Transport):
    def get_pull(self, number: int) -> dict[str, Any]:
        """`GET /repos/{o}/{r}/pulls/{n}`: head sha, base, labels, head repository."""
        return self._json(
            "GET", f"{self.repo_path}/pulls/{number}", what=f"read pull request #{number}"
        )

    def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        """`GET /repos/{o}/{r}/commits/{sha}/pulls`: the pull requests a commit belongs to."""
        return self._json_list(
            f"{self.repo_path}/commits/{sha}/pulls",
            f"list the pull requests of commit {sha[:12]}",
            {"per_page": 100},
        )

    def open_pulls_with_head(self, owner: str, branch: str) -> list[dict[str, Any]]:
        """`GET /repos/{o}/{r}/pulls?head=owner:branch&state=open` (how a fork's PR is found)."""
        return self._json_list(
            f"{self.repo_path}/pulls",
            f"list the open pull requests from {owner}:{branch}",
            {"head": f"{owner}:{branch}", "state": "open", "per_page": 100},
        )

    def commit_sha(self, ref: str) -> str:
        """`GET /repos/{o}/{r}/commits/{ref}`: the commit a tag or branch points at."""
        data = self._json(
            "GET", f"{self.repo_path}/commits/{quote(ref, safe='')}", what=f"read commit {ref!r}"
        )
        return str(data["sha"])

    def label_added_by(self, pr: int, label: str) -> str | None:
        """Who last added `label` to the pull request (from its issue events), if anyone."""
        events = self._list(
            f"{self.repo_path}/issues/{pr}/events", f"list the events of pull request #{pr}"
        )
        added = [
            e
            for e in events
            if e.get("event") == "labeled" and (e.get("label") or {}).get("name") == label
        ]
        if not added:
            return None
        login = (added[-1].get("actor") or {}).get("login")
        return str(login) if login else None

    def ancestors(self, sha: str, count: int) -> list[str]:
        """Up to `count` first-parent ancestors of `sha`, nearest first, like
        `git rev-list --first-parent`.

        The list-commits endpoint returns everything reachable, in date order (a merged
        branch's commits interleave with the mainline), so the pages are only a source of
        `parents`; the walk follows `parents[0]` from `sha`, asking for more pages while the
        next parent has not been seen.
        """
        if count <= 0:
            return []
        per_page = 100
        parent: dict[str, str | None] = {}
        chain: list[str] = []
        current: str | None = sha
        for page in range(1, MAX_PAGES + 1):
            items = self._json_list(
                f"{self.repo_path}/commits",
                f"list the history of commit {sha[:12]}",
                {"sha": sha, "per_page": per_page, "page": page},
            )
            for item in items:
                parents = [p.get("sha") for p in item.get("parents") or () if isinstance(p, dict)]
                first = parents[0] if parents and isinstance(parents[0], str) else None
                if isinstance(item.get("sha"), str):
                    parent[item["sha"]] = first
            while current is not None and current in parent and len(chain) < count:
                current = parent[current]
                if current is not None:
                    chain.append(current)
            if len(chain) >= count or current is None or len(items) < per_page:
                break
        return chain[:count]
