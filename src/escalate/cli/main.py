"""Command-line entry point: the click group and the one top-level error handler.

Subcommands live in ``escalate.cli.<name>`` and are imported only when
invoked, so ``escalate --help`` never pays for importing the SDK or git.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path

import click

from escalate import __version__
from escalate.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EscalateError

# name -> (module, attribute, one-line help). Help is here so --help stays import-free.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "fix": ("escalate.cli.fix", "fix", "Fix a failing test or a described problem, escalating tiers."),
    "config": ("escalate.cli.config", "config", "Show the effective configuration."),
    "models": ("escalate.cli.models", "models", "Show the resolved tier ladder with prices."),
    "explain": ("escalate.cli.explain", "explain", "Show the routing decision for a task."),
    "stats": ("escalate.cli.stats", "stats", "Success rate and cost per task class and tier."),
    "batch": ("escalate.cli.batch", "batch", "Nightly maintenance over the Message Batches API."),
    "install": ("escalate.cli.install", "install", "Install the project, its build code in the sandbox."),
    "sim": ("escalate.cli.sim", "sim", "The simulated Anthropic API."),
    "demo": ("escalate.cli.demo", "demo", "Offline demo on the simulated API (no key needed)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="escalate")
def cli() -> None:
    """escalate: the cheapest capable Claude model first, every patch proven."""


def _crash_log(exc: BaseException) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(os.environ.get("ESCALATE_CRASH_DIR", Path.home() / ".escalate")) / f"crash-{stamp}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # Config warnings are for people: no file:line of our own source in front of them.
    if category.__name__ == "ConfigWarning":
        click.echo(f"warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None, *, harden: bool = True) -> int:
    """Run the CLI; map errors to exit codes. Under pytest, bugs propagate as tracebacks.

    With ``--json``, every exit prints exactly one JSON object on stdout: a command that ends
    prints its own; an error that ends it early prints ``{"outcome": "error", "error_kind": ...}``.
    As the command itself (``argv`` None), the process then ends at once (``_exit_now``).

    ``harden`` clears this process's dumpable flag first (``hardening.undumpable``), for the rest of
    its life. An in-process caller that must leave its own process as found (a test) passes False;
    the command itself (``argv`` None) always hardens.
    """
    code = _main(argv, harden=harden or argv is None)
    if argv is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, which with the SDK loaded (thousands of
    modules) takes 0.5-1 s of a run. atexit handlers still run (escalate's worktree cleanup,
    logging's flush) and the standard streams are flushed; a live non-daemon thread means work
    under way, so then the normal exit waits for it."""
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    if sys.getprofile() is not None:  # python -m cProfile writes its stats after main returns
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head) loses nothing of ours
            pass
    os._exit(code)


def _main(argv: list[str] | None, *, harden: bool) -> int:
    if harden:
        from escalate.workspace.hardening import undumpable

        undumpable()  # code escalate runs (same user) cannot read this process's environ or memory
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return _run(argv)
    finally:
        warnings.showwarning = shown  # an in-process caller gets its own hook back


def _run(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _start_sdk_import(args)
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        rc = cli.main(args=args, prog_name="escalate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return _failed(as_json, "usage", exc.format_message(), exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return _failed(as_json, "interrupted", "interrupted (Ctrl-C or SIGTERM)", EXIT_INTERRUPTED)
    except EscalateError as exc:
        click.echo(f"error: {exc}", err=True)
        return _failed(as_json, _kind(exc), str(exc), exc.exit_code)
    except Exception as exc:
        if os.environ.get("ESCALATE_RAISE") or "PYTEST_CURRENT_TEST" in os.environ:
            raise
        log = _crash_log(exc)
        click.echo(f"internal error: {exc!r}\nA crash log was written to {log}", err=True)
        return _failed(as_json, "internal", f"internal error: {exc!r} (crash log: {log})", EXIT_INTERNAL)
    return rc if isinstance(rc, int) else 0


# Commands whose run makes model calls through the default provider as soon as its baseline is known.
_CALLS_SOON = {"fix"}


def _start_sdk_import(args: list[str]) -> None:
    """For ``escalate fix``, the SDK's import starts now, on a thread (``llm.providers.preload``):
    before click, the config and the worktree, so that every wait of the main thread until the
    first call hides part of it. Not for ``--help`` or ``--version``; a run that stops early (no
    key, a usage error) has spent only idle CPU on it: the thread is a daemon, the exit is at once."""
    words = args[: args.index("--")] if "--" in args else args
    command = next((w for w in words if not w.startswith("-")), None)
    if command not in _CALLS_SOON or {"-h", "--help", "--version"} & set(words):
        return
    from escalate.llm.providers import preload

    preload()


def _kind(exc: EscalateError) -> str:
    """The error family as a word for ``--json`` readers: ConfigError -> "config"."""
    name = type(exc).__name__.removesuffix("Error")
    return "usage" if name == "Escalate" else "".join(f"_{c.lower()}" if c.isupper() else c for c in name)[1:]


def _failed(as_json: bool, kind: str, message: str, code: int) -> int:
    if as_json:
        body = {"outcome": "error", "error_kind": kind, "explanation": message, "exit_code": code}
        click.echo(json.dumps(body))
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
