"""The demo's sample project does what `escalate demo` relies on, proven with real pytest and ruff."""

import shutil
from importlib import resources
from pathlib import Path

import yaml

from bench.corpus import COPY_IGNORE, apply_edits, run_pytest, run_ruff  # noqa: E402

DEMO = resources.files("escalate") / "data" / "demo"


def copy_demo(dest: Path) -> Path:
    with resources.as_file(DEMO) as src:
        shutil.copytree(src, dest, ignore=COPY_IGNORE)
    (dest / "demo.yml").unlink()
    return dest


def test_demo_failing_tests_fail_at_base_and_only_they_do(tmp_path):
    spec = yaml.safe_load((DEMO / "demo.yml").read_text())
    results = run_pytest(copy_demo(tmp_path / "base"))
    failing = sorted(n for n, r in results.items() if r != "passed")
    assert failing == sorted(spec["failing_tests"])
    assert len(results) > len(failing)  # passing tests exist too, so the suite stage means something


def test_demo_wrong_patch_leaves_a_test_failing(tmp_path):
    spec = yaml.safe_load((DEMO / "demo.yml").read_text())
    root = copy_demo(tmp_path / "wrong")
    apply_edits(root, spec["wrong"])
    results = run_pytest(root)
    assert any(results[n] == "failed" for n in spec["failing_tests"])


def test_demo_right_patch_passes_everything(tmp_path):
    spec = yaml.safe_load((DEMO / "demo.yml").read_text())
    root = copy_demo(tmp_path / "right")
    assert run_ruff(root) == []
    apply_edits(root, spec["right"])
    results = run_pytest(root)
    assert results and set(results.values()) == {"passed"}
    assert run_ruff(root) == []
