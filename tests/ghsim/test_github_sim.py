"""The loopback GitHub fake: wire shapes from the real examples, auth, errors, pagination, validation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from samplerepo import git, make_calc_repo

from escalate.ghsim import GithubState
from escalate.ghsim.testing import running_github_sim

REFERENCE = Path(__file__).parents[2] / "src" / "escalate" / "ghsim" / "shapes.json"


def call(sim, method: str, path: str, body=None, token: str | None = "default") -> tuple[int, dict, dict]:
    headers = {"Accept": "application/vnd.github+json"}
    if token:
        headers["Authorization"] = f"token {sim.token if token == 'default' else token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


@pytest.fixture
def seeded(github_sim):
    github_sim.state.add_repo("octo/calc")
    github_sim.state.add_issue("octo/calc", "add is broken", "It subtracts.", labels=["bug"])
    return github_sim


def test_authentication_is_required(seeded):
    status, body, _ = call(seeded, "GET", "/repos/octo/calc", token=None)
    assert status == 401 and body["message"] == "Requires authentication"
    status, body, _ = call(seeded, "GET", "/repos/octo/calc", token="ghp_wrong")
    assert status == 401 and body["message"] == "Bad credentials"
    assert seeded.requests[-1].authenticated_as is None


def test_unknown_routes_answer_404_in_githubs_shape(seeded):
    status, body, _ = call(seeded, "GET", "/repos/octo/calc/actions/runs")
    assert status == 404
    assert set(body) == {"message", "documentation_url", "status"} and body["message"] == "Not Found"
    assert call(seeded, "GET", "/repos/octo/nope")[0] == 404
    assert call(seeded, "GET", "/repos/octo/calc/issues/99")[0] == 404


def test_responses_carry_every_field_of_the_real_examples(seeded):
    shapes = json.loads(REFERENCE.read_text())
    _, issue, headers = call(seeded, "GET", "/repos/octo/calc/issues/1")
    assert set(shapes["issue"]) - {"pull_request", "pinned_comment"} <= set(issue)
    assert issue["title"] == "add is broken" and [lb["name"] for lb in issue["labels"]] == ["bug"]
    assert issue["url"] == f"{seeded.url}/repos/octo/calc/issues/1"  # rewritten to the fake's own host
    assert headers["Content-Type"].startswith("application/json")
    _, repo, _ = call(seeded, "GET", "/repos/octo/calc")
    assert set(shapes["repository"]) - {"template_repository", "organization", "parent", "source"} <= set(
        repo
    )
    _, comment, _ = call(seeded, "POST", "/repos/octo/calc/issues/1/comments", {"body": "Me too"})
    assert set(shapes["issue_comment"]) <= set(comment) and comment["user"]["login"] == "github-actions[bot]"


def test_comment_pagination_follows_link_headers(seeded):
    for n in range(5):
        seeded.state.add_comment("octo/calc", 1, f"c{n}")
    status, page, headers = call(seeded, "GET", "/repos/octo/calc/issues/1/comments?per_page=2")
    assert status == 200 and [c["body"] for c in page] == ["c0", "c1"]
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    _, last, headers = call(seeded, "GET", "/repos/octo/calc/issues/1/comments?per_page=2&page=3")
    assert [c["body"] for c in last] == ["c4"] and "Link" not in headers


def test_validation_errors(seeded):
    status, body, _ = call(seeded, "POST", "/repos/octo/calc/issues/1/comments", {})
    assert status == 422 and body["errors"][0]["field"] == "body"
    status, body, _ = call(seeded, "POST", "/repos/octo/calc/pulls", {"title": "t", "head": "x"})
    assert status == 422 and body["errors"] == [
        {"resource": "PullRequest", "code": "missing_field", "field": "base"}
    ]


def test_pull_request_head_must_have_been_pushed(tmp_path, github_sim):
    repo = make_calc_repo(tmp_path)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "push", "-q", str(bare), "main")
    github_sim.state.add_repo("octo/calc", git_dir=bare)
    pr = {"title": "Fix", "head": "escalate/issue-1", "base": "main", "body": "b"}
    status, body, _ = call(github_sim, "POST", "/repos/octo/calc/pulls", pr)
    assert status == 422 and body["errors"][0]["field"] == "head"
    git(repo, "push", "-q", str(bare), "main:escalate/issue-1")
    status, body, _ = call(github_sim, "POST", "/repos/octo/calc/pulls", pr)
    assert status == 201 and body["head"]["ref"] == "escalate/issue-1"
    assert body["head"]["sha"] == git(repo, "rev-parse", "HEAD").strip()
    status, body, _ = call(github_sim, "POST", "/repos/octo/calc/pulls", pr)
    assert status == 422 and "already exists" in body["errors"][0]["message"]


def test_permission_endpoint_reports_role_names(seeded):
    seeded.state.set_role("octo/calc", "tri", "triage")
    _, body, _ = call(seeded, "GET", "/repos/octo/calc/collaborators/tri/permission")
    assert (body["permission"], body["role_name"]) == ("read", "triage")
    seeded.state.add_user("stranger")
    _, body, _ = call(seeded, "GET", "/repos/octo/calc/collaborators/stranger/permission")
    assert body["role_name"] == "read"  # anyone may read a public repository
    assert call(seeded, "GET", "/repos/octo/calc/collaborators/ghost/permission")[0] == 404


def test_permission_endpoint_custom_roles_and_who_may_ask(seeded):
    # An organization's custom role: role_name is its name, permission its legacy base.
    seeded.state.set_role("octo/calc", "sec", "write", custom="security-engineer")
    _, body, _ = call(seeded, "GET", "/repos/octo/calc/collaborators/sec/permission")
    assert (body["permission"], body["role_name"], body["user"]["role_name"]) == (
        "write",
        "security-engineer",
        "security-engineer",
    )
    assert body["user"]["permissions"] == {
        "admin": False,
        "maintain": False,
        "push": True,
        "triage": True,
        "pull": True,
    }
    # GitHub: a person's token needs push access to read permissions; a workflow's token does not.
    seeded.state.add_token("ghp_reader", login="reader", type="User", role="read")
    status, body, _ = call(seeded, "GET", "/repos/octo/calc/collaborators/sec/permission", token="ghp_reader")
    assert (status, body["message"]) == (403, "Must have push access to view collaborator permission.")
    seeded.state.add_token("ghs_app", login="app[bot]", type="Bot", role="read")
    assert call(seeded, "GET", "/repos/octo/calc/collaborators/sec/permission", token="ghs_app")[0] == 200


def test_writes_need_a_role(seeded):
    seeded.state.add_token("ghp_reader", login="reader", type="User", role="read")
    status, body, _ = call(seeded, "POST", "/repos/octo/calc/issues/1/labels", ["x"], token="ghp_reader")
    assert status == 403 and "not accessible" in body["message"]


def test_enterprise_prefix_is_enforced():
    state = GithubState()
    state.add_repo("octo/calc")
    with running_github_sim(state, prefix="/api/v3") as sim:
        assert sim.url.endswith("/api/v3")
        assert call(sim, "GET", "/repos/octo/calc")[0] == 200
        req = urllib.request.Request(sim.url.removesuffix("/api/v3") + "/repos/octo/calc")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req)
        assert exc.value.code == 404


def test_state_seeds_from_a_webhook_payload(github_sim):
    payload = json.loads(
        (Path(__file__).parents[1] / "data" / "github" / "issue_comment.created.json").read_text()
    )
    github_sim.state.seed_from_payload(payload)
    _, issue, _ = call(github_sim, "GET", "/repos/Codertocat/Hello-World/issues/1")
    assert issue["title"] == payload["issue"]["title"] and issue["user"]["login"] == "Codertocat"
    _, comments, _ = call(github_sim, "GET", "/repos/Codertocat/Hello-World/issues/1/comments")
    assert [(c["body"], c["author_association"]) for c in comments] == [
        (payload["comment"]["body"], payload["comment"]["author_association"])
    ]
    _, repo, _ = call(github_sim, "GET", "/repos/Codertocat/Hello-World")
    assert repo["default_branch"] == payload["repository"]["default_branch"]
