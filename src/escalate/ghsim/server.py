"""The loopback GitHub REST server: routes, auth, pagination, validation, and a request log.

Only the operations escalate uses are implemented (plus what PyGithub calls on the way);
anything else answers 404 in GitHub's error shape, so a new call shows up as a failing test
instead of a silently wrong answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from escalate.ghsim.state import LEGACY_PERMISSION, ROLES, ApiError, GithubState, Issue, Pull, Renderer

_REPO = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


@dataclass
class LoggedRequest:
    method: str
    path: str  # without the API prefix and query
    query: dict[str, str]
    body: Any
    authenticated_as: str | None
    status: int = 0


class GithubServer:
    """Owns the HTTP server thread. ``prefix`` emulates GitHub Enterprise's ``/api/v3``."""

    def __init__(self, state: GithubState | None = None, *, port: int = 0, prefix: str = ""):
        self.state = state or GithubState()
        self.prefix = prefix.rstrip("/")
        self.requests: list[LoggedRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}{self.prefix}"
        self.render = Renderer(self.url)
        self._thread: threading.Thread | None = None
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
            (m, re.compile(f"^{p}$"), f) for m, p, f in _ROUTES
        ]

    def start(self) -> GithubServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ghsim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def calls(self, method: str | None = None, path_contains: str = "") -> list[LoggedRequest]:
        return [
            r
            for r in list(self.requests)
            if (method is None or r.method == method) and path_contains in r.path
        ]


def _handler_for(server: GithubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the request log replaces stderr noise
            pass

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            entry = LoggedRequest(method, path, query, None, None)
            server.requests.append(entry)
            headers: dict[str, str] = {}
            try:
                entry.body = json.loads(raw) if raw else None
                if server.prefix:
                    if not path.startswith(server.prefix + "/"):
                        raise ApiError(404, "Not Found")
                    path = path[len(server.prefix) :]
                    entry.path = path
                entry.authenticated_as = _authenticate(server.state, self.headers.get("Authorization"))
                status, payload, headers = _route(
                    server, method, path, query, entry.body, entry.authenticated_as
                )
            except ApiError as exc:
                status, payload = exc.status, exc.body
            except json.JSONDecodeError:
                status, payload = (
                    400,
                    {
                        "message": "Problems parsing JSON",
                        "documentation_url": "https://docs.github.com/rest",
                        "status": "400",
                    },
                )
            entry.status = status
            data = b"" if status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            self.send_header("X-GitHub-Request-Id", f"GHSIM:{len(server.requests)}")
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", str(5000 - len(server.requests)))
            self.send_header("X-RateLimit-Reset", "4102444800")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _authenticate(state: GithubState, header: str | None) -> str:
    if not header:
        raise ApiError(401, "Requires authentication", docs="rest/overview/authenticating-to-the-rest-api")
    scheme, _, token = header.partition(" ")
    login = state.tokens.get(token.strip()) if scheme.lower() in ("token", "bearer") else None
    if login is None:
        raise ApiError(401, "Bad credentials", docs="rest")
    return login


def _route(
    server: GithubServer, method: str, path: str, query: dict[str, str], body: Any, viewer: str
) -> tuple[int, Any, dict[str, str]]:
    for m, pattern, func in server.routes:
        match = pattern.match(path)
        if match and m == method:
            with server.state.lock:
                result = func(server, viewer=viewer, query=query, body=body, **match.groupdict())
            return result if len(result) == 3 else (*result, {})
    raise ApiError(404, "Not Found")  # also for unknown verbs on known paths, as GitHub does


def _paginate(server: GithubServer, path: str, query: dict[str, str], items: list) -> tuple[int, list, dict]:
    per_page = min(int(query.get("per_page", 30)), 100)
    page = max(int(query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    for rel, n in (("next", page + 1), ("last", last)):
        if page < last:
            links.append(
                f'<{server.url}{path}?{urlencode({**query, "page": n, "per_page": per_page})}>; rel="{rel}"'
            )
    headers = {"Link": ", ".join(links)} if links else {}
    return 200, items[(page - 1) * per_page : page * per_page], headers


def _slug(owner: str, name: str) -> str:
    return f"{owner}/{name}"


def _required(body: Any, *keys: str, resource: str) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    missing = [k for k in keys if not body.get(k)]
    if missing:
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": resource, "code": "missing_field", "field": k} for k in missing],
        )
    return body


def _need_role(server: GithubServer, slug: str, viewer: str, role: str) -> None:
    repo = server.state.repo(slug)
    if ROLES.index(server.state.role(repo, viewer)) < ROLES.index(role):
        raise ApiError(403, "Resource not accessible by integration")


# -- handlers --------------------------------------------------------------------------------------


def get_user(server: GithubServer, *, viewer: str, **_: Any) -> tuple[int, Any]:
    return 200, server.render.user(server.state.users[viewer])


def get_repo(server: GithubServer, *, owner: str, name: str, viewer: str, **_: Any) -> tuple[int, Any]:
    state = server.state
    return 200, server.render.repository(state, state.repo(_slug(owner, name)), viewer)


def get_issue(server: GithubServer, *, owner: str, name: str, number: str, **_: Any) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    return 200, server.render.issue(state, state.repo(slug), state.issue(slug, int(number)))


def list_comments(server: GithubServer, *, owner: str, name: str, number: str, query: dict, **_: Any):
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    state.issue(slug, int(number))
    items = [server.render.comment(state, repo, c) for c in repo.comments if c.issue_number == int(number)]
    return _paginate(server, f"/repos/{slug}/issues/{number}/comments", query, items)


def create_comment(
    server: GithubServer, *, owner: str, name: str, number: str, body: Any, viewer: str, **_: Any
) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    issue = state.issue(slug, int(number))
    text = _required(body, "body", resource="IssueComment")["body"]
    role = state.role(state.repo(slug), viewer)
    if issue.locked and role not in ("write", "maintain", "admin"):
        raise ApiError(403, "Unable to create comment because issue is locked.")
    assoc = {"admin": "OWNER", "maintain": "MEMBER", "write": "COLLABORATOR"}.get(role, "NONE")
    comment = state.add_comment(slug, int(number), text, user=viewer, author_association=assoc)
    return 201, server.render.comment(state, state.repo(slug), comment)


def list_labels(server: GithubServer, *, owner: str, name: str, number: str, query: dict, **_: Any):
    state = server.state
    slug = _slug(owner, name)
    issue = state.issue(slug, int(number))
    items = [server.render.label(state.repo(slug), lb) for lb in issue.labels]
    return _paginate(server, f"/repos/{slug}/issues/{number}/labels", query, items)


def add_labels(
    server: GithubServer, *, owner: str, name: str, number: str, body: Any, viewer: str, **_: Any
) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    _need_role(server, slug, viewer, "triage")
    issue = state.issue(slug, int(number))
    names = body.get("labels") if isinstance(body, dict) else body  # GitHub accepts both forms
    if not isinstance(names, list) or not all(isinstance(n, str) | isinstance(n, dict) for n in names):
        raise ApiError(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.")
    for label in names:
        label = label["name"] if isinstance(label, dict) else label
        if label not in issue.labels:
            issue.labels.append(label)
    return 200, [server.render.label(state.repo(slug), lb) for lb in issue.labels]


def remove_label(
    server: GithubServer, *, owner: str, name: str, number: str, label: str, viewer: str, **_: Any
) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    _need_role(server, slug, viewer, "triage")
    issue = state.issue(slug, int(number))
    if label not in issue.labels:
        raise ApiError(404, "Label does not exist", docs="rest/issues/labels#remove-a-label-from-an-issue")
    issue.labels.remove(label)
    return 200, [server.render.label(state.repo(slug), lb) for lb in issue.labels]


def list_issues(server: GithubServer, *, owner: str, name: str, query: dict, **_: Any):
    """GET /repos/{owner}/{repo}/issues: open by default, `labels` a comma list that must all match;
    pull requests are included, as on GitHub (they carry a `pull_request` key)."""
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    wanted = query.get("state", "open")
    labels = [label for label in query.get("labels", "").split(",") if label]
    items = [
        server.render.issue(state, repo, i)
        for i in sorted(repo.issues.values(), key=lambda i: -i.number)
        if (wanted == "all" or i.state == wanted) and all(label in i.labels for label in labels)
    ]
    return _paginate(server, f"/repos/{slug}/issues", query, items)


def list_pulls(server: GithubServer, *, owner: str, name: str, query: dict, **_: Any):
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    wanted = query.get("state", "open")
    head = query.get("head")  # "owner:branch", as GitHub wants it
    base = query.get("base")
    pulls = sorted((i for i in repo.issues.values() if i.pull is not None), key=lambda i: -i.number)
    items = [
        server.render.pull(state, repo, i)
        for i in pulls
        if (wanted == "all" or i.state == wanted)
        and (head is None or f"{owner}:{i.pull.head}" == head)
        and (base is None or i.pull.base == base)
    ]
    return _paginate(server, f"/repos/{slug}/pulls", query, items)


def create_pull(server: GithubServer, *, owner: str, name: str, body: Any, viewer: str, **_: Any):
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    _need_role(server, slug, viewer, "write")
    data = _required(body, "head", "base", "title", resource="PullRequest")
    head = data["head"].split(":", 1)[-1]
    errors = []
    head_sha = state.branch_sha(repo, head)
    if head_sha is None:
        errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
    if state.branch_sha(repo, data["base"]) is None:
        errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
    if errors:
        raise ApiError(422, "Validation Failed", errors, docs="rest/pulls/pulls#create-a-pull-request")
    for other in repo.issues.values():
        if (
            other.pull
            and other.state == "open"
            and other.pull.head == head
            and other.pull.base == data["base"]
        ):
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {owner}:{head}.",
                    }
                ],
            )
    issue = state.add_issue(slug, data["title"], data.get("body"), user=viewer, author_association="NONE")
    issue.pull = Pull(head, data["base"], bool(data.get("draft", False)), head_sha=head_sha or "")
    return 201, server.render.pull(state, repo, issue)


def get_pull(server: GithubServer, *, owner: str, name: str, number: str, **_: Any) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    issue = state.pull(slug, int(number))
    _refresh_head(state, slug, issue)
    return 200, server.render.pull(state, state.repo(slug), issue)


def update_pull(
    server: GithubServer, *, owner: str, name: str, number: str, body: Any, viewer: str, **_: Any
) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    _need_role(server, slug, viewer, "write")
    issue = state.pull(slug, int(number))
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    if "state" in body and body["state"] not in ("open", "closed"):
        raise ApiError(
            422, "Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}]
        )
    issue.title = body.get("title", issue.title)
    issue.body = body.get("body", issue.body)
    issue.state = body.get("state", issue.state)
    issue.pull.base = body.get("base", issue.pull.base)  # type: ignore[union-attr]
    _refresh_head(state, slug, issue)
    return 200, server.render.pull(state, state.repo(slug), issue)


def _refresh_head(state: GithubState, slug: str, issue: Issue) -> None:
    # A force-push moves the head; GitHub reports the new sha on the next read.
    sha = state.branch_sha(state.repo(slug), issue.pull.head)  # type: ignore[union-attr]
    if sha:
        issue.pull.head_sha = sha  # type: ignore[union-attr]


def get_permission(server: GithubServer, *, owner: str, name: str, user: str, viewer: str, **_: Any):
    # GitHub: a person's token needs push access to read anyone's permission ("Must have push access
    # to view collaborator permission."); an installation token (a workflow's) needs only metadata read.
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    viewer_role = state.role(repo, viewer)
    if viewer_role == "none":
        raise ApiError(404, "Not Found", docs="rest/collaborators/collaborators")
    if state.users[viewer].type != "Bot" and ROLES.index(viewer_role) < ROLES.index("write"):
        raise ApiError(
            403,
            "Must have push access to view collaborator permission.",
            docs="rest/collaborators/collaborators",
        )
    if user not in state.users:
        raise ApiError(404, "Not Found", docs="rest/collaborators/collaborators")
    role = state.role(repo, user)
    role_name = repo.custom_roles.get(user, role)
    return 200, {
        "permission": LEGACY_PERMISSION[role],
        "role_name": role_name,
        "user": {
            **server.render.user(state.users[user]),
            "permissions": {
                "admin": role == "admin",
                "maintain": role in ("maintain", "admin"),
                "push": role in ("write", "maintain", "admin"),
                "triage": role not in ("none", "read"),
                "pull": role != "none",
            },
            "role_name": role_name,
        },
    }


def get_commit(server: GithubServer, *, owner: str, name: str, sha: str, **_: Any) -> tuple[int, Any]:
    """A commit as the REST API shows it, read from the repository's git dir when there is one."""
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    fmt = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%B"
    fields = ["0" * 40, "", "", "", "", "", "", "", "", ""]
    if repo.git_dir is not None:
        proc = subprocess.run(
            ["git", "show", "-s", f"--format={fmt}", f"{sha}^{{commit}}"],
            cwd=repo.git_dir,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise ApiError(422, f"No commit found for SHA: {sha}", docs="rest/commits/commits#get-a-commit")
        fields = proc.stdout.split("\x00", 9)
    full, parents, an, ae, ad, cn, ce, cd, tree, message = fields
    full = full if repo.git_dir is not None else sha
    api = f"{server.url}/repos/{slug}"
    return 200, {
        "sha": full,
        "node_id": f"C_{full}",
        "url": f"{api}/commits/{full}",
        "html_url": f"https://github.com/{slug}/commit/{full}",
        "comments_url": f"{api}/commits/{full}/comments",
        "commit": {
            "message": message.rstrip("\n"),
            "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            "author": {"name": an, "email": ae, "date": ad},
            "committer": {"name": cn, "email": ce, "date": cd},
            "url": f"{api}/git/commits/{full}",
            "comment_count": 0,
        },
        "author": None,
        "committer": None,
        "parents": [{"sha": p, "url": f"{api}/commits/{p}"} for p in parents.split()],
        "stats": {"total": 0, "additions": 0, "deletions": 0},
        "files": [],
    }


def create_commit_comment(
    server: GithubServer, *, owner: str, name: str, sha: str, body: Any, viewer: str, **_: Any
) -> tuple[int, Any]:
    state = server.state
    slug = _slug(owner, name)
    repo = state.repo(slug)
    text = _required(body, "body", resource="CommitComment")["body"]
    cid = state.next_id()
    out = {
        "id": cid,
        "node_id": f"CC_{cid}",
        "body": text,
        "commit_id": sha,
        "path": None,
        "position": None,
        "line": None,
        "user": server.render.user(state.users[viewer]),
        "author_association": "NONE",
        "url": f"{server.url}/repos/{slug}/comments/{cid}",
        "html_url": f"https://github.com/{slug}/commit/{sha}#commitcomment-{cid}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    repo.commit_comments.append(out)
    return 201, out


_ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("GET", "/user", get_user),
    ("GET", _REPO, get_repo),
    ("GET", _REPO + r"/issues", list_issues),
    ("GET", _REPO + r"/issues/(?P<number>\d+)", get_issue),
    ("GET", _REPO + r"/issues/(?P<number>\d+)/comments", list_comments),
    ("POST", _REPO + r"/issues/(?P<number>\d+)/comments", create_comment),
    ("GET", _REPO + r"/issues/(?P<number>\d+)/labels", list_labels),
    ("POST", _REPO + r"/issues/(?P<number>\d+)/labels", add_labels),
    ("DELETE", _REPO + r"/issues/(?P<number>\d+)/labels/(?P<label>.+)", remove_label),
    ("GET", _REPO + r"/pulls", list_pulls),
    ("POST", _REPO + r"/pulls", create_pull),
    ("GET", _REPO + r"/pulls/(?P<number>\d+)", get_pull),
    ("PATCH", _REPO + r"/pulls/(?P<number>\d+)", update_pull),
    ("GET", _REPO + r"/collaborators/(?P<user>[^/]+)/permission", get_permission),
    ("GET", _REPO + r"/commits/(?P<sha>[0-9a-f]{7,40})", get_commit),
    ("POST", _REPO + r"/commits/(?P<sha>[0-9a-f]{7,40})/comments", create_commit_comment),
]
