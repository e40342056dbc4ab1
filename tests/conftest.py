"""Shared fixtures. The simulated Anthropic API (``sim``) and GitHub (``github_sim``) are
plugins that load only here, never into the repositories escalate runs pytest on."""

import pytest

pytest_plugins = ["escalate.sim.testing", "escalate.ghsim.testing"]


@pytest.fixture(autouse=True)
def _lean_sample_runs(monkeypatch):
    """The sample projects need no pytest plugins. Not autoloading this venv's (hypothesis, xdist,
    timeout, benchmark, anyio) into every pytest run escalate starts takes each run from ~1.2 s
    to ~0.25 s of CPU: most of the suite's time. A test that needs them (bench/faults.py's -n)
    removes the variable itself."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def env(sim, monkeypatch):
    """The sim, with its URL and key in the environment: the CLI and the runner find it as they
    would the real API."""
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    return sim
