import json
import os
from pathlib import Path

from escalate.workspace.repomap import build_map, estimate_tokens, files_in_traceback, names_in_text

FILES = {
    "shop/__init__.py": "from shop.cart import Cart\n",
    "shop/cart.py": (
        "from decimal import Decimal\n\n"
        "from shop.pricing import apply_discount\n\n\n"
        "class Cart:\n"
        "    items: list\n\n"
        "    def add(self, sku: str, qty: int = 1) -> None:\n        pass\n\n"
        "    def total(self) -> Decimal:\n        return apply_discount(Decimal(0), 0)\n"
    ),
    "shop/pricing.py": (
        "TAX_RATE = 0.2\n\n\n"
        "def apply_discount(price, percent: int) -> float:\n    return price * percent / 10\n\n\n"
        "async def fetch_rates(url: str, *, timeout: float = 5.0) -> dict:\n    return {}\n"
    ),
    "shop/shipping.py": "def ship_cost(weight_kg: float) -> float:\n    return 4.5 * weight_kg\n",
    "reports/monthly.py": "def render(rows: list[dict]) -> str:\n    return ''\n",
    "tests/test_cart.py": "from shop import Cart\n\n\ndef test_total():\n    assert Cart().total() == 0\n",
    ".venv/lib/site.py": "def hidden():\n    pass\n",
    "node_modules/x/y.py": "def hidden2():\n    pass\n",
    "build/lib/shop/cart.py": "def hidden3():\n    pass\n",
}


def make_project(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".gitignore").write_text("build/\n*.pyc\n")
    return root


def test_signatures_and_skipped_dirs(tmp_path):
    m = build_map(make_project(tmp_path), budget_tokens=5000)
    pricing = "shop/pricing.py:\n  TAX_RATE = ...\n  def apply_discount(price, percent: int) -> float\n"
    assert pricing in m.text
    assert "  async def fetch_rates(url: str, *, timeout: float=5.0) -> dict" in m.text
    cart = "shop/cart.py:\n  class Cart:\n    items: list\n    def add(self, sku: str, qty: int=1) -> None\n"
    assert cart in m.text
    assert "    def total(self) -> Decimal\n" in m.text
    for hidden in ("hidden", ".venv", "node_modules", "build/"):
        assert hidden not in m.text
    assert sorted(m.files) == sorted(p for p in FILES if p.startswith(("shop", "reports", "tests")))
    assert m.omitted == 0 and m.tokens == estimate_tokens(m.text)


def test_traceback_files_rank_first_then_defining_then_importing(tmp_path):
    root = make_project(tmp_path)
    m = build_map(root, focus_files=["shop/shipping.py"], focus_names=["apply_discount"], budget_tokens=5000)
    assert m.files[0] == "shop/shipping.py"  # named in the traceback
    assert m.files[1] == "shop/pricing.py"  # defines apply_discount
    assert m.files[2] == "shop/cart.py"  # imports shop.pricing
    assert m.text.startswith("shop/shipping.py:")
    assert m.text.index("shop/pricing.py") < m.text.index("reports/monthly.py")


def test_issue_names_pull_their_file_up(tmp_path):
    root = make_project(tmp_path)
    monthly = root / "reports" / "monthly.py"
    os.utime(monthly, ns=(0, 10**9))  # the oldest file: last without focus
    assert build_map(root).files[-1] == "reports/monthly.py"
    names = names_in_text("Monthly report: render() drops the last row when rows is empty")
    focused = build_map(root, focus_names=names, budget_tokens=5000)
    assert focused.files[0] == "reports/monthly.py"
    assert focused.text.startswith("reports/monthly.py:\n  def render(rows: list[dict]) -> str\n")


def test_traceback_parsing_finds_repo_files_only(tmp_path):
    root = make_project(tmp_path)
    tb = (
        "Traceback (most recent call last):\n"
        f'  File "{root}/shop/cart.py", line 12, in total\n'
        '  File "/usr/lib/python3.11/decimal.py", line 3, in x\n'
        "shop/pricing.py:5: in apply_discount\n"
        "FAILED tests/test_cart.py::test_total - assert 1 == 0\n"
        "FAILED tests/test_gone.py::test_x\n"
    )
    assert files_in_traceback(tb, root) == ["shop/cart.py", "shop/pricing.py", "tests/test_cart.py"]
    assert "Cart.total" in names_in_text("Cart.total is wrong") and "total" in names_in_text("Cart.total")


def test_budget_is_respected_and_truncation_is_reported(tmp_path):
    body = "".join(f"def function_{j}(alpha, beta, gamma):\n    pass\n" for j in range(8))
    files = {f"pkg/mod{i:02}.py": body for i in range(30)}
    root = make_project(tmp_path, files)
    m = build_map(root, focus_files=["pkg/mod17.py"], budget_tokens=300)
    assert m.tokens <= 300 and estimate_tokens(m.text) == m.tokens
    assert m.shown[0] == "pkg/mod17.py"
    assert 0 < len(m.shown) < 30 and m.omitted == 30 - len(m.shown)
    assert f"... {m.omitted} more file(s) not shown (map budget 300 tokens)" in m.text


def test_oversized_traceback_file_is_listed_partially(tmp_path):
    files = {"big.py": "".join(f"def f{j}(a, b, c, d, e, f, g):\n    pass\n" for j in range(200))}
    m = build_map(make_project(tmp_path, files), focus_files=["big.py"], budget_tokens=100)
    assert m.text.startswith("big.py:\n  def f0(") and "  ...\n" in m.text
    assert m.tokens <= 100


def test_cache_reused_and_invalidated(tmp_path):
    root = make_project(tmp_path)
    first = build_map(root)
    assert first.parsed == 6
    cache = root / ".escalate" / "cache" / "repomap.json"
    assert set(json.loads(cache.read_text())["files"]) == set(first.files)
    second = build_map(root)
    assert second.parsed == 0 and second.text == first.text

    target = root / "shop" / "shipping.py"
    target.write_text(target.read_text() + "\n\ndef free_shipping(total: float) -> bool:\n    return True\n")
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    third = build_map(root, budget_tokens=5000)
    assert third.parsed == 1
    assert "def free_shipping(total: float) -> bool" in third.text

    (root / "reports" / "monthly.py").unlink()
    fourth = build_map(root)
    assert fourth.parsed == 0 and "reports/monthly.py" not in fourth.files
    assert "reports/monthly.py" not in json.loads(cache.read_text())["files"]


def test_custom_cache_dir_and_damaged_cache(tmp_path):
    root = make_project(tmp_path / "repo")
    cache_dir = tmp_path / "cache"
    assert build_map(root, cache_dir=cache_dir).parsed == 6
    assert not (root / ".escalate").exists()
    (cache_dir / "repomap.json").write_text("{not json")
    assert build_map(root, cache_dir=cache_dir).parsed == 6
    assert build_map(root, cache_dir=cache_dir).parsed == 0


def test_syntax_errors_do_not_break_the_map(tmp_path):
    files = dict(FILES, **{"shop/broken.py": "def oops(:\n    pass\n", "shop/nul.py": "x = 1\x00\n"})
    m = build_map(make_project(tmp_path, files), budget_tokens=5000)
    assert "shop/broken.py: (syntax error)\n" in m.text
    assert "shop/nul.py: (syntax error)\n" in m.text
    assert "def apply_discount(" in m.text


def test_tiny_budget_and_broken_symlink(tmp_path):
    root = make_project(tmp_path)
    (root / "shop" / "dangling.py").symlink_to(root / "nowhere.py")
    m = build_map(root, budget_tokens=5)
    assert m.shown == [] and m.tokens <= 5 and m.text
    assert "shop/dangling.py" not in build_map(root, budget_tokens=5000).files
