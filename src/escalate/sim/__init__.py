"""The simulated Anthropic API: a loopback server the real ``anthropic`` SDK talks to.

Start it with ``escalate sim serve`` or, in tests, ``escalate.sim.testing.running_sim``
(also the ``sim`` pytest fixture). See docs/sim.md.
"""

from __future__ import annotations

__all__ = ["Simulator", "SimServer", "running_sim"]


def __getattr__(name: str):
    # Lazy so that `import escalate.sim.testing` (a pytest plugin) stays cheap.
    if name == "Simulator":
        from escalate.sim.simulator import Simulator

        return Simulator
    if name == "SimServer":
        from escalate.sim.server import SimServer

        return SimServer
    if name == "running_sim":
        from escalate.sim.testing import running_sim

        return running_sim
    raise AttributeError(name)
