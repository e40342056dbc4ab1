"""The only module that talks to GitHub: issues, comments, labels, pull requests, permissions.

Everything goes through PyGithub, pointed at ``GITHUB_API_URL`` (GitHub Enterprise Server and
the loopback fake alike). Results come back as small frozen dataclasses so nothing above this
module holds a PyGithub object (or makes a lazy network call by reading an attribute).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from escalate.errors import EscalateError, MissingCredentialError

if TYPE_CHECKING:  # PyGithub's classes, imported where a call needs them
    from github.Issue import Issue
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"

# Roles that may triage issues: a label from anyone weaker never starts a paid run.
TRIAGE_ROLES = frozenset({"triage", "write", "maintain", "admin"})
# Roles that may push: an `@escalate fix` comment from anyone weaker never starts a paid run.
WRITE_ROLES = frozenset({"write", "maintain", "admin"})
# GitHub's base roles; a custom role's name is none of these and is judged by its legacy base.
BASE_ROLES = ("none", "read", "triage", "write", "maintain", "admin")


class GithubError(EscalateError):
    """GitHub refused or failed a request; the message says what to check."""


@dataclass(frozen=True)
class IssueComment:
    author: str
    association: str
    body: str


@dataclass(frozen=True)
class IssueInfo:
    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    state: str  # "open" | "closed"
    locked: bool
    author: str
    url: str
    is_pull_request: bool
    comments: tuple[IssueComment, ...]  # trusted authors only


@dataclass(frozen=True)
class PullInfo:
    number: int
    url: str
    head: str
    base: str
    body: str
    author: str
    draft: bool


def _advice(status: int, what: str) -> str:
    if status == 401:
        return f"{what}: GitHub rejected the token. Set GITHUB_TOKEN to a valid token (e.g. github.token)."
    if status == 403:
        return (
            f"{what}: the token may not do this. Give the workflow `permissions: contents: write, "
            "issues: write, pull-requests: write`, or use a PAT / GitHub App token with those scopes."
        )
    if status == 404:
        return (
            f"{what}: not found. Check --repo-slug / GITHUB_REPOSITORY, the issue number and GITHUB_API_URL."
        )
    return f"{what}: GitHub answered {status}."


def _issue_info(issue: Issue, comments: tuple[IssueComment, ...]) -> IssueInfo:
    """A PyGithub issue as plain data, with the comments the caller chose to keep."""
    return IssueInfo(
        number=issue.number,
        title=issue.title or "",
        body=issue.body or "",
        labels=tuple(label.name for label in issue.labels),
        state=issue.state,
        locked=bool(issue.locked),
        author=issue.user.login,
        url=issue.html_url,
        is_pull_request=issue.pull_request is not None,
        comments=comments,
    )


class GithubRepo:
    """One repository on one GitHub host, authenticated with one token."""

    def __init__(self, slug: str, token: str, api_url: str = DEFAULT_API_URL) -> None:
        from github import Auth, Github, GithubRetry

        if slug.count("/") != 1 or not all(slug.split("/")):
            raise EscalateError(f"repository {slug!r} is not owner/name; pass --repo-slug owner/name.")
        self.slug = slug
        self.api_url = api_url.rstrip("/")
        # PyGithub paces requests (0.25 s, 1 s between writes) for GitHub's secondary rate limits;
        # a loopback server (the fake, a local proxy) has none, so it is not paced.
        local = urlsplit(self.api_url).hostname in ("127.0.0.1", "localhost", "::1")
        self._gh = Github(
            base_url=self.api_url,
            auth=Auth.Token(token),
            retry=GithubRetry(total=2),  # a CI job should fail in seconds, not back off for minutes
            timeout=30,
            seconds_between_requests=0 if local else 0.25,
            seconds_between_writes=0 if local else 1.0,
        )
        self._repo_obj: Repository | None = None

    @classmethod
    def from_env(cls, slug: str | None = None, env: Mapping[str, str] | None = None) -> GithubRepo:
        """From GITHUB_REPOSITORY (or slug), GITHUB_TOKEN and GITHUB_API_URL, as a runner sets them."""
        env = os.environ if env is None else env
        slug = slug or env.get("GITHUB_REPOSITORY")
        if not slug:
            raise EscalateError("No repository given: pass --repo-slug owner/name or set GITHUB_REPOSITORY.")
        token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
        if not token:
            raise MissingCredentialError(
                "No GitHub token found: set GITHUB_TOKEN (in a workflow: `GITHUB_TOKEN: ${{ github.token }}`)"
            )
        return cls(slug, token, env.get("GITHUB_API_URL") or DEFAULT_API_URL)

    def _call(self, what: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from github import GithubException

        try:
            return func(*args, **kwargs)
        except GithubException as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            words = [data.get("message")] + [
                e.get("message") for e in data.get("errors") or [] if isinstance(e, dict)
            ]
            detail = f" ({': '.join(w for w in words if w)})" if any(words) else ""
            raise GithubError(_advice(exc.status, f"{what} in {self.slug} failed{detail}")) from exc

    @property
    def _repo(self) -> Repository:
        if self._repo_obj is None:
            self._repo_obj = self._call("reading the repository", self._gh.get_repo, self.slug)
        return self._repo_obj

    @property
    def default_branch(self) -> str:
        return self._repo.default_branch

    @property
    def owner(self) -> str:
        return self.slug.split("/")[0]

    # -- issues -----------------------------------------------------------------------------

    def issue(self, number: int, trusted: frozenset[str] | set[str] | list[str]) -> IssueInfo:
        """The issue, with only the comments whose author_association is in ``trusted``."""
        issue = self._call(f"reading issue #{number}", self._repo.get_issue, number)
        return self._with_comments(issue, trusted)

    def _with_comments(self, issue: Issue, trusted: frozenset[str] | set[str] | list[str]) -> IssueInfo:
        number = issue.number
        comments = self._call(f"reading the comments of #{number}", lambda: list(issue.get_comments()))
        return _issue_info(
            issue,
            tuple(
                IssueComment(c.user.login, c.author_association, c.body or "")
                for c in comments
                if c.author_association in set(trusted)
            ),
        )

    def labelled_issues(self, label: str, trusted: frozenset[str] | set[str] | list[str]) -> list[IssueInfo]:
        """Open issues (pull requests left out) carrying ``label``, newest first, each with the
        comments whose author_association is in ``trusted`` (as ``issue`` reads them).

        Only people with triage access can label, so the label itself is the trust check for the issue.
        """
        found = self._call(
            f"listing issues labelled {label!r}",
            lambda: list(self._repo.get_issues(state="open", labels=[label])),
        )
        return [self._with_comments(i, trusted) for i in found if i.pull_request is None]

    def comment(self, number: int, body: str) -> str:
        """Comment on an issue or pull request; returns the comment's URL."""
        issue = self._call(f"reading issue #{number}", self._repo.get_issue, number)
        return self._call(f"commenting on #{number}", issue.create_comment, body).html_url

    def commit_comment(self, sha: str, body: str) -> str:
        """Comment on a commit (CI failures have no issue to talk on); returns the URL."""
        commit = self._call(f"reading commit {sha[:12]}", self._repo.get_commit, sha)
        return self._call(f"commenting on commit {sha[:12]}", commit.create_comment, body).html_url

    def add_labels(self, number: int, *labels: str) -> None:
        issue = self._call(f"reading issue #{number}", self._repo.get_issue, number)
        self._call(f"labelling #{number}", issue.add_to_labels, *labels)

    def remove_label(self, number: int, label: str) -> None:
        """Remove a label; a label that is not there is not an error."""
        from github import GithubException

        issue = self._call(f"reading issue #{number}", self._repo.get_issue, number)
        try:
            issue.remove_from_labels(label)
        except GithubException as exc:
            if exc.status != 404:
                raise GithubError(_advice(exc.status, f"removing label {label!r} from #{number}")) from exc

    def role(self, login: str) -> str:
        """The user's base role on the repository: none, read, triage, write, maintain or admin.

        From ``GET /repos/{owner}/{repo}/collaborators/{username}/permission``: ``role_name``, or
        for an organization's custom role (whose name is none of those) its legacy ``permission``
        (admin, write, read or none), so a custom role never counts for more than its base.
        """
        from github import GithubException

        try:
            name = self._repo.get_collaborator_role_name(login)
            if name in BASE_ROLES:
                return name
            legacy = self._repo.get_collaborator_permission(login)
            return legacy if legacy in BASE_ROLES else "none"
        except GithubException as exc:
            if exc.status == 404:  # not a user GitHub knows: no role at all
                return "none"
            raise GithubError(_advice(exc.status, f"reading the permission of {login}")) from exc

    # -- pull requests ----------------------------------------------------------------------

    def _pull(self, pr: PullRequest) -> PullInfo:
        return PullInfo(
            pr.number, pr.html_url, pr.head.ref, pr.base.ref, pr.body or "", pr.user.login, bool(pr.draft)
        )

    def open_pulls(self) -> list[PullInfo]:
        pulls = self._call("listing pull requests", lambda: list(self._repo.get_pulls(state="open")))
        return [self._pull(pr) for pr in pulls]

    def pull_for_head(self, branch: str) -> PullInfo | None:
        """The open pull request from ``branch`` of this repository, if any."""
        pulls = self._call(
            "listing pull requests",
            lambda: list(self._repo.get_pulls(state="open", head=f"{self.owner}:{branch}")),
        )
        return self._pull(pulls[0]) if pulls else None

    def open_pull(self, *, title: str, body: str, head: str, base: str, draft: bool) -> PullInfo:
        pr = self._call(
            f"opening a pull request from {head}",
            self._repo.create_pull,
            base=base,
            head=head,
            title=title,
            body=body,
            draft=draft,
        )
        return self._pull(pr)

    def open_or_update_pull(self, branch: str, *, title: str, body: str, draft: bool) -> PullInfo:
        """The pull request from ``branch`` to the default branch: opened, or (a re-run: same branch,
        force-pushed) the open one updated with the new title and body."""
        existing = self.pull_for_head(branch)
        if existing is not None:
            return self.update_pull(existing.number, title=title, body=body)
        return self.open_pull(title=title, body=body, head=branch, base=self.default_branch, draft=draft)

    def update_pull(self, number: int, *, title: str, body: str) -> PullInfo:
        pr = self._call(f"reading pull request #{number}", self._repo.get_pull, number)
        self._call(f"updating pull request #{number}", pr.edit, title=title, body=body)
        return self._pull(self._call(f"reading pull request #{number}", self._repo.get_pull, number))
