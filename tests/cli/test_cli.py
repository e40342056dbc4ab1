import subprocess
import sys

from escalate.cli.main import main


def test_help_lists_only_commands_that_exist(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: escalate [OPTIONS] COMMAND [ARGS]...")
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == ["batch", "config", "demo", "explain", "fix", "install", "models", "sim", "stats"]
    for name in listed:  # each listed command imports and answers its own --help
        assert main([name, "--help"]) == 0, name
        assert capsys.readouterr().out.startswith(f"Usage: escalate {name} "), name


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_help_does_not_import_the_sdk_or_git():
    code = (
        "import sys\nfrom escalate.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('anthropic', 'git', 'github') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_commands_share_code_only_through_common():
    """A command module imports no other command: what two commands share lives in cli/common.py
    (or the library package that owns it)."""
    import ast
    from pathlib import Path

    import escalate.cli

    cli = Path(escalate.cli.__file__).parent
    own_helpers = {"demo": {"escalate.cli.demo_run"}}  # a command's own module, imported by it alone
    for path in sorted(cli.glob("*.py")):
        allowed = {"escalate.cli.common", *own_helpers.get(path.stem, ())}
        if path.stem in ("main", "__main__"):  # the group names the commands (lazily, by module path)
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("escalate.cli."):
                assert node.module in allowed, f"cli/{path.name} imports {node.module}"
