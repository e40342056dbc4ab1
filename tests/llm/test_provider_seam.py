"""The provider seam holds: only llm/ imports the SDK, and the SDK's shapes stay behind it."""

import ast
from pathlib import Path

import escalate

SRC = Path(escalate.__file__).parent


def sdk_importers() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "anthropic" or n.startswith("anthropic.") for n in names):
                found.append(path.relative_to(SRC).as_posix())
    return sorted(set(found))


def test_only_the_anthropic_provider_imports_the_sdk():
    assert sdk_importers() == ["llm/providers/anthropic.py"]


def test_the_api_stop_reasons_are_read_only_in_the_provider():
    # escalate's code reads Stop; the API's words ("end_turn", "pause_turn", ...) stay in the provider
    # (and in the simulator, which speaks the API).
    words = ('"end_turn"', '"pause_turn"', '"model_context_window_exceeded"', '"stop_sequence"')
    outside_sim = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] != "sim"]
    readers = sorted(
        p.relative_to(SRC).as_posix()
        for p in outside_sim
        if any(w in p.read_text(encoding="utf-8") for w in words)
    )
    assert readers == ["llm/providers/anthropic.py"]


def test_the_implementations_have_everything_their_seam_names():
    from escalate.llm.catalog import Catalog
    from escalate.llm.client import MeteredClient
    from escalate.llm.pricing import Budget, PriceTable
    from escalate.llm.protocols import ModelClient, Provider
    from escalate.llm.providers.anthropic import AnthropicProvider, sdk_client

    provider = AnthropicProvider(sdk_client(api_key="k", base_url="http://127.0.0.1:9"))
    client = MeteredClient(Catalog.static(), PriceTable.load(), Budget(1), [].append, provider=provider)
    for impl, seam in ((provider, Provider), (client, ModelClient)):
        wanted = {n for n in vars(seam) if not n.startswith("_")} | set(seam.__annotations__)
        assert wanted and not {n for n in wanted if not hasattr(impl, n)}, type(impl).__name__
