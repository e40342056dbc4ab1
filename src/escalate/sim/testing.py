"""Test helpers: ``running_sim(...)`` and the ``sim`` pytest fixture.

A plugin loaded only when asked for (``pytest_plugins = ["escalate.sim.testing"]`` in a
conftest.py, or ``-p escalate.sim.testing``), so it never loads into the test runs of the
repositories escalate validates. With it, a test gets ``sim``: a simulated API on a free loopback port,
with its request log, clock and script at hand::

    def test_fix(sim):
        sim.set_script({"models": {"*": [{"content": [{"type": "text", "text": "hi"}]}]}})
        client = anthropic.Anthropic(base_url=sim.url, api_key=sim.api_key, max_retries=2)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from escalate.sim.clock import Clock
    from escalate.sim.server import SimServer

DEFAULT_KEY = "sk-sim-test"


class SimHandle:
    """A running sim: ``url``, ``api_key``, ``requests`` (the log), ``clock``, ``set_script``, ``env()``."""

    def __init__(self, server: SimServer, api_key: str):
        self.server = server
        self.sim = server.sim
        self.url = server.url
        self.api_key = api_key

    @property
    def clock(self) -> Clock:
        return self.sim.clock

    @property
    def requests(self) -> list[dict]:
        """Every logged request so far (a snapshot), including batch items (method "BATCH")."""
        return self.sim.log.snapshot()

    def messages_requests(self) -> list[dict]:
        """Only the ``POST /v1/messages`` records, retries included."""
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == "/v1/messages"]

    def total_cost(self) -> Decimal:
        """What the sim charged in USD over all requests (its own catalogue prices)."""
        return sum((Decimal(r["cost_usd_exact"]) for r in self.requests), Decimal(0))

    def set_script(self, script: dict | str | Path | None) -> None:
        """Replace the script (a dict or a YAML path); fault request counts restart at 1."""
        self.sim.set_script(script)

    @property
    def batch_seconds(self) -> float:
        return self.sim.batch_seconds

    @batch_seconds.setter
    def batch_seconds(self, seconds: float) -> None:
        self.sim.batch_seconds = float(seconds)

    def env(self) -> dict[str, str]:
        return {"ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": self.api_key}

    def client(self, **kwargs):
        """A real ``anthropic.Anthropic`` pointed at this sim (max_retries=2 unless given)."""
        from escalate.llm.providers.anthropic import sdk_client

        kwargs.setdefault("max_retries", 2)
        return sdk_client(base_url=self.url, api_key=self.api_key, **kwargs)

    def provider(self):
        """escalate's Anthropic provider (the real SDK, its retries off) pointed at this sim."""
        from escalate.llm.providers.anthropic import AnthropicProvider

        return AnthropicProvider(self.client(max_retries=0))


@contextmanager
def running_sim(
    script: dict | str | Path | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    log_path: str | Path | None = None,
    batch_seconds: float = 0.0,
    api_key: str = DEFAULT_KEY,
    require_key: bool = False,
    seed: int | None = None,
) -> Iterator[SimHandle]:
    """Run a sim in a background thread for the ``with`` block; ``require_key`` rejects other keys."""
    from escalate.sim.server import SimServer
    from escalate.sim.simulator import Simulator

    sim = Simulator(
        script,
        log_path=log_path,
        batch_seconds=batch_seconds,
        api_key=api_key if require_key else None,
        seed=seed,
    )
    server = SimServer(sim, host=host, port=port).start()
    try:
        yield SimHandle(server, api_key)
    finally:
        server.close()


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A simulated Anthropic API on a free port; set a script with ``sim.set_script(...)``."""
    with running_sim() as handle:
        yield handle
