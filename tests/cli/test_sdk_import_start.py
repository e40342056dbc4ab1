"""`escalate fix` starts the SDK's import before anything else; --help and other commands do not."""

from __future__ import annotations

import pytest

from escalate.cli import main as cli_main
from escalate.llm import providers


@pytest.fixture
def preloads(monkeypatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(providers, "preload", lambda: seen.append("preload"))
    return seen


def test_fix_starts_the_import_before_click_reads_its_options(preloads, monkeypatch, tmp_path):
    def click_main(*args, **kwargs):
        assert preloads == ["preload"]  # already under way when the command's own work begins
        return 0

    monkeypatch.setattr(cli_main.cli, "main", click_main)
    assert cli_main.main(["--json", "fix", "--repo", str(tmp_path), "tests/t.py::test_x"]) == 0


@pytest.mark.parametrize(
    "argv",
    [["fix", "--help"], ["--help"], ["--version"], ["stats"], ["explain", "tests/t.py::test_x"], []],
)
def test_help_and_other_commands_do_not_import_the_sdk(preloads, monkeypatch, argv):
    monkeypatch.setattr(cli_main.cli, "main", lambda *args, **kwargs: 0)
    cli_main.main(argv)
    assert preloads == []
