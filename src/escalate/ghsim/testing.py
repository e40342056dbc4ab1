"""Test helpers: a running fake GitHub and the ``github_sim`` pytest fixture.

A plugin loaded only when asked for (``pytest_plugins = ["escalate.ghsim.testing"]``), so it
never loads into the test runs of the repositories escalate validates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from escalate.ghsim.server import GithubServer
from escalate.ghsim.state import GithubState

TOKEN = "ghs_simulated0000000000000000000000000000"


class GithubSim(GithubServer):
    """A started server plus the token it accepts and the environment that points clients at it."""

    token: str = TOKEN

    def env(self, slug: str | None = None) -> dict[str, str]:
        """What a GitHub Actions runner would set: API URL, token and (optionally) the repository."""
        out = {"GITHUB_API_URL": self.url, "GITHUB_TOKEN": self.token}
        if slug:
            out["GITHUB_REPOSITORY"] = slug
        return out


@contextmanager
def running_github_sim(
    state: GithubState | None = None, *, prefix: str = "", token: str = TOKEN
) -> Iterator[GithubSim]:
    """Start the fake on a free loopback port; the token authenticates as ``github-actions[bot]``."""
    state = state or GithubState()
    state.add_token(token)
    sim = GithubSim(state, prefix=prefix)
    sim.token = token
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def github_sim() -> Iterator[GithubSim]:
    """A fresh fake GitHub per test, served under ``/api/v3`` like GitHub Enterprise."""
    with running_github_sim(prefix="/api/v3") as sim:
        yield sim
