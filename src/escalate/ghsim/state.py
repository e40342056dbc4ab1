"""The fake's in-memory GitHub: repositories, users, issues, comments, labels, pull requests.

Responses are built from the real examples in ``shapes.json`` (copied from GitHub's REST
docs): a deep copy of the example, our values filled in, every URL rewritten to the fake's
own base so PyGithub's host checks and lazy completion keep working.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

_SHAPES: dict[str, Any] = json.loads(resources.files("escalate.ghsim").joinpath("shapes.json").read_text())

# GitHub's role names, weakest first, and what the permission endpoint reports for each.
ROLES = ("none", "read", "triage", "write", "maintain", "admin")
LEGACY_PERMISSION = {
    "none": "none",
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An HTTP error answered in GitHub's shape: {"message", "documentation_url", "status"}."""

    def __init__(self, status: int, message: str, errors: list[dict] | None = None, docs: str = "rest"):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "message": message,
            "documentation_url": f"https://docs.github.com/{docs}",
            "status": str(status),
        }
        if errors:
            self.body["errors"] = errors


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # "User" | "Bot" | "Organization"


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: str
    author_association: str
    created_at: str = field(default_factory=_now)


@dataclass
class Pull:
    head: str
    base: str
    draft: bool
    head_sha: str = ""
    merged: bool = False


@dataclass
class Issue:
    """An issue or, when ``pull`` is set, a pull request (they share numbers, as on GitHub)."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    author_association: str = "OWNER"
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    locked: bool = False
    pull: Pull | None = None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)


@dataclass
class Repo:
    slug: str
    id: int
    default_branch: str = "main"
    git_dir: Path | None = None  # when set, PR heads and bases must exist here (as pushed)
    roles: dict[str, str] = field(default_factory=dict)  # login -> base role (one of ROLES)
    custom_roles: dict[str, str] = field(default_factory=dict)  # login -> custom role name, over its base
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    commit_comments: list[dict] = field(default_factory=list)
    private: bool = False


class GithubState:
    """Everything the fake knows. All mutation goes through the lock: the server is threaded."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, str] = {}  # token -> login it authenticates as
        self.token_roles: dict[str, str] = {}  # token login -> role on every repository
        self._ids = 1000

    # -- seeding -------------------------------------------------------------------------------

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    def add_user(self, login: str, type: str = "User") -> User:
        with self.lock:
            if login not in self.users:
                self.users[login] = User(login, self.next_id(), type)
            elif type != "User":
                self.users[login].type = type
            return self.users[login]

    def add_token(
        self, token: str, login: str = "github-actions[bot]", type: str = "Bot", role: str = "write"
    ) -> None:
        """A token authenticating as login, with role on every repository (like a workflow's token)."""
        self.add_user(login, type)
        self.tokens[token] = login
        self.token_roles[login] = role

    def add_repo(
        self, slug: str, *, default_branch: str = "main", git_dir: Path | None = None, private: bool = False
    ) -> Repo:
        owner = slug.split("/")[0]
        self.add_user(owner)
        with self.lock:
            repo = Repo(slug, self.next_id(), default_branch, git_dir, private=private)
            repo.roles[owner] = "admin"
            self.repos[slug] = repo
            return repo

    def set_role(
        self, slug: str, login: str, role: str, type: str = "User", *, custom: str | None = None
    ) -> None:
        """Give login a base role on the repository; ``custom`` names an organization's custom role
        built on that base (the permission endpoint reports it as ``role_name``)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        self.add_user(login, type)
        repo = self.repo(slug)
        repo.roles[login] = role
        if custom:
            repo.custom_roles[login] = custom
        else:
            repo.custom_roles.pop(login, None)

    def _next_number(self, repo: Repo) -> int:
        return max(repo.issues, default=0) + 1

    def add_issue(
        self,
        slug: str,
        title: str,
        body: str | None = "",
        *,
        user: str = "octocat",
        number: int | None = None,
        labels: list[str] | None = None,
        state: str = "open",
        locked: bool = False,
        author_association: str = "OWNER",
    ) -> Issue:
        self.add_user(user)
        repo = self.repo(slug)
        with self.lock:
            number = number or self._next_number(repo)
            issue = Issue(
                number,
                self.next_id(),
                title,
                body,
                user,
                author_association,
                list(labels or []),
                state,
                locked,
            )
            repo.issues[number] = issue
            return issue

    def add_comment(
        self, slug: str, number: int, body: str, *, user: str = "octocat", author_association: str = "NONE"
    ) -> Comment:
        self.add_user(user)
        repo = self.repo(slug)
        with self.lock:
            comment = Comment(self.next_id(), number, body, user, author_association)
            repo.comments.append(comment)
            return comment

    def add_pull(
        self,
        slug: str,
        title: str,
        body: str,
        *,
        head: str,
        base: str | None = None,
        user: str = "octocat",
        draft: bool = False,
        state: str = "open",
    ) -> Issue:
        repo = self.repo(slug)
        issue = self.add_issue(slug, title, body, user=user, state=state)
        issue.pull = Pull(head, base or repo.default_branch, draft)
        return issue

    def seed_from_payload(self, payload: dict, *, git_dir: Path | None = None) -> Repo:
        """Create the repository, issue and actors a webhook payload talks about."""
        r = payload["repository"]
        repo = self.repos.get(r["full_name"]) or self.add_repo(
            r["full_name"], default_branch=r.get("default_branch", "main"), git_dir=git_dir
        )
        if "issue" in payload:
            i = payload["issue"]
            self.add_user(i["user"]["login"], i["user"].get("type", "User"))
            issue = self.add_issue(
                repo.slug,
                i["title"],
                i.get("body"),
                user=i["user"]["login"],
                number=i["number"],
                labels=[lb["name"] for lb in i.get("labels", [])],
                state=i.get("state", "open"),
                locked=bool(i.get("locked")),
                author_association=i.get("author_association", "NONE"),
            )
            if "comment" in payload:
                c = payload["comment"]
                self.add_comment(
                    repo.slug,
                    issue.number,
                    c["body"],
                    user=c["user"]["login"],
                    author_association=c.get("author_association", "NONE"),
                )
        sender = payload.get("sender")
        if sender:
            self.add_user(sender["login"], sender.get("type", "User"))
        return repo

    # -- queries -------------------------------------------------------------------------------

    def repo(self, slug: str) -> Repo:
        try:
            return self.repos[slug]
        except KeyError:
            raise ApiError(404, "Not Found", docs="rest/repos/repos#get-a-repository") from None

    def issue(self, slug: str, number: int) -> Issue:
        try:
            return self.repo(slug).issues[number]
        except KeyError:
            raise ApiError(404, "Not Found", docs="rest/issues/issues#get-an-issue") from None

    def pull(self, slug: str, number: int) -> Issue:
        issue = self.issue(slug, number)
        if issue.pull is None:
            raise ApiError(404, "Not Found", docs="rest/pulls/pulls#get-a-pull-request")
        return issue

    def branch_sha(self, repo: Repo, branch: str) -> str | None:
        """The commit a branch points at in the repo's git dir; None when it was never pushed."""
        if repo.git_dir is None:
            return "0" * 40
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}"],
            cwd=repo.git_dir,
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    def role(self, repo: Repo, login: str) -> str:
        if login in repo.roles:
            return repo.roles[login]
        if login in self.token_roles:
            return self.token_roles[login]
        # A public repository lets anyone read; a private one nobody who was not added.
        return "none" if repo.private else "read"


class Renderer:
    """Turns state objects into GitHub JSON, from the real examples."""

    def __init__(self, api_base: str, html_base: str = "https://github.com"):
        self.api = api_base.rstrip("/")
        self.html = html_base.rstrip("/")

    def _rewrite(self, obj: Any, slug: str | None) -> Any:
        if isinstance(obj, dict):
            return {k: self._rewrite(v, slug) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._rewrite(v, slug) for v in obj]
        if isinstance(obj, str):
            if slug:
                obj = obj.replace("octocat/Hello-World", slug)
            return obj.replace("https://api.github.com", self.api)
        return obj

    def user(self, user: User) -> dict:
        out = copy.deepcopy(_SHAPES["user"])
        out = {k: v.replace("octocat", user.login) if isinstance(v, str) else v for k, v in out.items()}
        out.update(id=user.id, node_id=f"U_{user.id}", type=user.type, site_admin=False)
        return self._rewrite(out, None)

    def repository(self, state: GithubState, repo: Repo, viewer: str | None = None) -> dict:
        out = copy.deepcopy(_SHAPES["repository"])
        for nested in ("template_repository", "organization", "parent", "source"):
            out.pop(nested, None)
        name = repo.slug.split("/")[1]
        role = state.role(repo, viewer) if viewer else "read"
        out.update(
            id=repo.id,
            node_id=f"R_{repo.id}",
            name=name,
            full_name=repo.slug,
            private=repo.private,
            visibility="private" if repo.private else "public",
            default_branch=repo.default_branch,
            owner=self.user(state.users[repo.slug.split("/")[0]]),
            open_issues_count=sum(1 for i in repo.issues.values() if i.state == "open"),
            permissions={
                "admin": role == "admin",
                "maintain": role in ("maintain", "admin"),
                "push": ROLES.index(role) >= ROLES.index("write"),
                "triage": ROLES.index(role) >= ROLES.index("triage"),
                "pull": role != "none",
            },
        )
        out["open_issues"] = out["open_issues_count"]
        out["html_url"] = f"{self.html}/{repo.slug}"
        return self._rewrite(out, repo.slug)

    def label(self, repo: Repo, name: str) -> dict:
        out = copy.deepcopy(_SHAPES["label"])
        out.update(
            id=zlib.crc32(f"{repo.slug}:{name}".encode()),
            node_id=f"LA_{name}",
            name=name,
            url=f"{self.api}/repos/{repo.slug}/labels/{name}",
            default=False,
            description=None,
        )
        return out

    def issue(self, state: GithubState, repo: Repo, issue: Issue) -> dict:
        out = copy.deepcopy(_SHAPES["issue"])
        out.pop("pinned_comment", None)
        n = issue.number
        out.update(
            id=issue.id,
            node_id=f"I_{issue.id}",
            number=n,
            title=issue.title,
            body=issue.body,
            state=issue.state,
            locked=issue.locked,
            active_lock_reason="resolved" if issue.locked else None,
            user=self.user(state.users[issue.user]),
            labels=[self.label(repo, lb) for lb in issue.labels],
            assignee=None,
            assignees=[],
            milestone=None,
            closed_by=None,
            comments=sum(1 for c in repo.comments if c.issue_number == n),
            author_association=issue.author_association,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=None if issue.state == "open" else issue.updated_at,
            state_reason=None if issue.state == "open" else "completed",
        )
        for key in ("url", "labels_url", "comments_url", "events_url", "html_url"):
            out[key] = out[key].replace("/1347", f"/{n}")
        if issue.pull is None:
            out.pop("pull_request", None)
        else:
            out["pull_request"] = {
                k: v.replace("/1347", f"/{n}") if isinstance(v, str) else v
                for k, v in out["pull_request"].items()
            }
        return self._rewrite(out, repo.slug)

    def comment(self, state: GithubState, repo: Repo, comment: Comment) -> dict:
        out = copy.deepcopy(_SHAPES["issue_comment"])
        out.update(
            id=comment.id,
            node_id=f"IC_{comment.id}",
            body=comment.body,
            user=self.user(state.users[comment.user]),
            author_association=comment.author_association,
            created_at=comment.created_at,
            updated_at=comment.created_at,
            url=f"https://api.github.com/repos/octocat/Hello-World/issues/comments/{comment.id}",
            html_url=f"https://github.com/octocat/Hello-World/issues/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            issue_url=f"https://api.github.com/repos/octocat/Hello-World/issues/{comment.issue_number}",
        )
        return self._rewrite(out, repo.slug)

    def pull(self, state: GithubState, repo: Repo, issue: Issue) -> dict:
        assert issue.pull is not None
        out = copy.deepcopy(_SHAPES["pull_request"])
        n, p = issue.number, issue.pull
        text = json.dumps(out).replace("/1347", f"/{n}").replace("/pull/1347", f"/pull/{n}")
        out = json.loads(text)
        repo_json = self.repository(state, repo)
        owner = repo.slug.split("/")[0]
        user = self.user(state.users[issue.user])
        merged = p.merged
        out.update(
            id=issue.id,
            node_id=f"PR_{issue.id}",
            number=n,
            state=issue.state,
            locked=issue.locked,
            title=issue.title,
            body=issue.body,
            user=user,
            labels=[self.label(repo, lb) for lb in issue.labels],
            milestone=None,
            active_lock_reason=None,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=None if issue.state == "open" else issue.updated_at,
            merged_at=None,
            merge_commit_sha=None,
            assignee=None,
            assignees=[],
            requested_reviewers=[],
            requested_teams=[],
            author_association=issue.author_association,
            draft=p.draft,
            merged=merged,
            merged_by=None,
            mergeable=None,
            rebaseable=None,
            mergeable_state="unknown",
            comments=0,
            review_comments=0,
            commits=1,
            additions=0,
            deletions=0,
            changed_files=0,
            auto_merge=None,
            statuses_url=f"{self.api}/repos/{repo.slug}/statuses/{p.head_sha}",
            head={
                "label": f"{owner}:{p.head}",
                "ref": p.head,
                "sha": p.head_sha,
                "user": repo_json["owner"],
                "repo": repo_json,
            },
            base={
                "label": f"{owner}:{p.base}",
                "ref": p.base,
                "sha": state.branch_sha(repo, p.base) or "",
                "user": repo_json["owner"],
                "repo": repo_json,
            },
        )
        return self._rewrite(out, repo.slug)
