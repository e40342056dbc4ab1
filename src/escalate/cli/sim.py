"""`escalate sim serve`: run the simulated Anthropic API until Ctrl-C."""

from __future__ import annotations

import signal

import click


@click.group()
def sim() -> None:
    """The simulated Anthropic API (offline; point the SDK at it with ANTHROPIC_BASE_URL)."""


@sim.command()
@click.option(
    "--script",
    "script",
    metavar="FILE|NAME",
    help="Script YAML (docs/sim.md), or a shipped script by name: escalation, faults, oracle.",
)
@click.option("--port", type=int, default=8765, show_default=True, help="Port; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--log", "log_path", type=click.Path(dir_okay=False), help="Also write the request log here (JSONL)."
)
@click.option(
    "--batch-seconds",
    type=float,
    default=5.0,
    show_default=True,
    help="Sim-clock seconds a message batch takes to process.",
)
@click.option("--api-key", default=None, help="Accept only this key (default: any non-empty key).")
@click.option("--seed", type=int, default=None, help="Seed for generated ids.")
def serve(
    script: str | None,
    port: int,
    host: str,
    log_path: str | None,
    batch_seconds: float,
    api_key: str | None,
    seed: int | None,
) -> None:
    """Serve the simulated API and print the environment lines to use it."""
    from escalate.sim.server import SimServer
    from escalate.sim.simulator import Simulator

    server = SimServer(
        Simulator(script, log_path=log_path, batch_seconds=batch_seconds, api_key=api_key, seed=seed),
        host=host,
        port=port,
    )
    click.echo(f"escalate sim serving the Anthropic API on {server.url}")
    click.echo(f"export ANTHROPIC_BASE_URL={server.url}")
    click.echo(f"export ANTHROPIC_API_KEY={api_key or 'sk-sim-anything'}")
    click.echo("Ctrl-C to stop.", nl=True)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT explicitly too: started as a shell's background job, the process inherits SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("escalate sim stopped.")
    finally:
        server.close()
