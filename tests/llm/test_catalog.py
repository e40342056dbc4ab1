import copy
import json
import socket
import threading
import time
from dataclasses import replace
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from escalate.config import TierConfig
from escalate.errors import EscalateError
from escalate.llm.catalog import Capabilities, Catalog
from escalate.llm.pricing import PriceTable

# The Models API entry from reference/anthropic-api.md section 6.
OPUS_5_5 = {
    "type": "model",
    "id": "claude-opus-5-5",
    "display_name": "Claude Opus 5.5",
    "created_at": "2026-09-22T00:00:00Z",
    "lifecycle": "active",
    "line": "opus",
    "deprecated_at": None,
    "retires_at": None,
    "max_input_tokens": 1000000,
    "max_tokens": 128000,
    "capabilities": {
        "batch": {"supported": True},
        "citations": {"supported": True},
        "code_execution": {"supported": True},
        "context_management": {
            "supported": True,
            "clear_thinking_20251015": {"supported": True},
            "clear_tool_uses_20250919": {"supported": True},
            "compact_20260112": {"supported": True},
        },
        "effort": {
            "supported": True,
            "low": {"supported": True},
            "medium": {"supported": True},
            "high": {"supported": True},
            "xhigh": {"supported": True},
            "max": {"supported": True},
        },
        "image_input": {"supported": True},
        "pdf_input": {"supported": True},
        "server_tools": {
            "supported": True,
            "code_execution": {"supported": True},
            "web_search": {"supported": True},
        },
        "structured_outputs": {"supported": True},
        "thinking": {
            "supported": True,
            "types": {
                "adaptive": {"supported": True},
                "enabled": {"supported": False},
                "disabled": {"supported": False},
                "between_tools": {"supported": False},
            },
        },
    },
}


def api_model(model_id, line, created, lifecycle="active", effort=(), thinking=("enabled", "disabled")):
    entry = copy.deepcopy(OPUS_5_5)
    entry.update(id=model_id, display_name=model_id, line=line, created_at=created, lifecycle=lifecycle)
    entry["max_input_tokens"], entry["max_tokens"] = 200000, 64000
    levels = entry["capabilities"]["effort"]
    levels["supported"] = bool(effort)
    for lvl in ("low", "medium", "high", "xhigh", "max"):
        levels[lvl]["supported"] = lvl in effort
    for kind, flag in entry["capabilities"]["thinking"]["types"].items():
        flag["supported"] = kind in thinking
    return entry


API_MODELS = [
    OPUS_5_5,
    api_model("claude-haiku-4-5", "haiku", "2025-10-01T00:00:00Z"),
    api_model("claude-sonnet-4-5", "sonnet", "2025-09-29T00:00:00Z", lifecycle="deprecated"),
    api_model(
        "claude-haiku-9", "haiku", "2027-01-01T00:00:00Z", effort=("low", "high"), thinking=("adaptive",)
    ),
    api_model("claude-haiku-8", "haiku", "2026-12-01T00:00:00Z", effort=("low",)),
]


class ModelsAPI:
    """A loopback server answering GET /v1/models in the real shape, two models per page."""

    def __init__(self, models):
        self.models, self.requests = models, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                api.requests.append(self.path)
                if url.path != "/v1/models":
                    self.send_error(404)
                    return
                after = parse_qs(url.query).get("after_id", [None])[0]
                ids = [m["id"] for m in api.models]
                start = ids.index(after) + 1 if after else 0
                page = api.models[start : start + 2]
                body = {
                    "data": page,
                    "has_more": start + 2 < len(ids),
                    "first_id": page[0]["id"] if page else None,
                    "last_id": page[-1]["id"] if page else None,
                }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", "req_test")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def models_api():
    api = ModelsAPI(API_MODELS)
    yield api
    api.close()


def client_for(url):
    from escalate.llm.providers.anthropic import AnthropicProvider, sdk_client

    return AnthropicProvider(sdk_client(api_key="sk-test", base_url=url, timeout=5))


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_static_table_covers_every_priced_model():
    catalog = Catalog.static()
    assert catalog.source == "static"
    priced = set(PriceTable.load().models)
    assert priced <= set(catalog.models), priced - set(catalog.models)
    assert set(catalog.models) <= priced  # and no model without a price
    haiku, opus = catalog.get("claude-haiku-4-5"), catalog.get("claude-opus-4-6")
    assert haiku.capabilities.effort_levels == frozenset()
    assert (
        "enabled" in haiku.capabilities.thinking_types and "adaptive" not in haiku.capabilities.thinking_types
    )
    assert opus.capabilities.effort_levels == {"low", "medium", "high", "max"}
    assert {"enabled", "adaptive"} <= opus.capabilities.thinking_types and not opus.capabilities.prefill
    assert catalog.get("claude-opus-4-7").capabilities.thinking_types == {"adaptive", "disabled"}
    sonnet_55 = catalog.get("claude-sonnet-5-5").capabilities
    assert not sonnet_55.forced_tool_choice and "disabled" not in sonnet_55.thinking_types
    assert haiku.min_cacheable_tokens == 4096 and haiku.context_window == 200_000


def test_capabilities_from_models_api_dict():
    caps = Capabilities.from_api(OPUS_5_5["capabilities"])
    assert caps.effort_levels == {"low", "medium", "high", "xhigh", "max"}
    assert caps.thinking_types == {"adaptive"}
    assert caps.batch is True
    # not in the API: inferred conservatively (thinking cannot be disabled -> no forced tool choice)
    assert caps.forced_tool_choice is False and caps.prefill is False
    known = Capabilities(frozenset(), frozenset(), forced_tool_choice=True, prefill=True, batch=False)
    assert Capabilities.from_api(OPUS_5_5["capabilities"], known).forced_tool_choice is True


def test_capabilities_from_sdk_object():
    from anthropic.types import ModelInfo as SdkModelInfo

    sdk = SdkModelInfo.model_validate(api_model("m", "haiku", "2026-01-01T00:00:00Z", effort=("low", "max")))
    caps = Capabilities.from_api(sdk.capabilities)
    assert caps.effort_levels == {"low", "max"}
    assert caps.thinking_types == {"enabled", "disabled"}
    assert caps.forced_tool_choice is True  # thinking can be disabled


def test_from_api_reads_all_pages_and_caches(models_api, tmp_path):
    cache = tmp_path / "models.json"
    catalog = Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600)
    assert catalog.source == "api"
    assert set(catalog.models) == {m["id"] for m in API_MODELS}
    assert len(models_api.requests) == 3  # five models, two per page
    opus = catalog.get("claude-opus-5-5")
    assert opus.created_at == date(2026, 9, 22) and opus.context_window == 1_000_000
    assert opus.min_cacheable_tokens == 512  # not in the API: from the static table
    assert catalog.get("claude-haiku-9").min_cacheable_tokens == 1024  # unknown model: the API default
    assert json.loads(cache.read_text())["base_url"].startswith(models_api.url)

    again = Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600)
    assert again.source == "cache" and len(models_api.requests) == 3  # fresh cache: no request
    assert again.models == catalog.models


def test_stale_cache_is_refreshed(models_api, tmp_path):
    cache = tmp_path / "models.json"
    Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600)
    data = json.loads(cache.read_text())
    data["fetched_at"] = time.time() - 7200
    cache.write_text(json.dumps(data))
    assert Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600).source == "api"
    assert len(models_api.requests) == 6


def test_api_down_falls_back_to_stale_cache_then_static(models_api, tmp_path):
    cache = tmp_path / "models.json"
    Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600)
    models_api.close()
    down = client_for(models_api.url)
    stale = Catalog.from_api(down, cache, ttl_s=0)
    assert stale.source == "cache" and "stale" in stale.note and "APIConnectionError" in stale.note
    assert "claude-haiku-9" in stale

    fallback = Catalog.from_api(client_for(closed_port_url()), tmp_path / "none.json", ttl_s=3600)
    assert fallback.source == "static" and "Models API unavailable" in fallback.note
    assert "claude-opus-4-6" in fallback


def test_cache_from_another_server_is_not_reused(models_api, tmp_path):
    cache = tmp_path / "models.json"
    Catalog.from_api(client_for(models_api.url), cache, ttl_s=3600)
    other = Catalog.from_api(client_for(closed_port_url()), cache, ttl_s=3600)
    assert other.source == "static"


def test_line_resolves_to_newest_active_model(models_api, tmp_path):
    catalog = Catalog.from_api(client_for(models_api.url), tmp_path / "m.json", ttl_s=60)
    assert catalog.resolve(TierConfig(name="h", line="haiku")).id == "claude-haiku-9"
    assert catalog.resolve(TierConfig(name="o", line="opus")).id == "claude-opus-5-5"
    # the only sonnet is deprecated: a line never resolves to it
    with pytest.raises(EscalateError, match=r"No active model in line 'sonnet'.*Set tiers\[1\]\.line"):
        catalog.resolve(TierConfig(name="s", line="sonnet"), 1)
    # the newest haiku retired -> the next newest active one
    catalog.models["claude-haiku-9"] = replace(catalog.models["claude-haiku-9"], lifecycle="deprecated")
    assert catalog.resolve(TierConfig(name="h", line="haiku")).id == "claude-haiku-8"


def test_unknown_and_retired_models_name_the_tier_key():
    catalog = Catalog.static()
    with pytest.raises(EscalateError, match=r"Unknown model 'claude-foo-9'.*Set tiers\[2\]\.model to one of"):
        catalog.resolve(TierConfig(name="opus", model="claude-foo-9"), 2)
    catalog.models["claude-opus-4-5"] = replace(catalog.models["claude-opus-4-5"], lifecycle="retired")
    with pytest.raises(EscalateError, match=r"is retired. Set tiers\[0\]\.model"):
        catalog.resolve(TierConfig(name="opus", model="claude-opus-4-5"), 0)


def test_warnings_for_deprecated_and_retiring_models():
    catalog = Catalog.static()
    assert "deprecated" in catalog.warnings(catalog.get("claude-sonnet-4-5"))[0]
    active = replace(catalog.get("claude-opus-4-6"), retires_at=date(2027, 3, 1))
    assert catalog.warnings(active, today=date(2026, 12, 1)) == []
    assert "retires on 2027-03-01" in catalog.warnings(active, today=date(2027, 1, 15))[0]
    assert catalog.warnings(catalog.get("claude-haiku-4-5")) == []


def test_models_command_offline(tmp_path, monkeypatch):
    from escalate.cli.models import models

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    (tmp_path / ".escalate.yml").write_text(
        "tiers:\n  - {name: cheap, line: haiku}\n  - {name: top, model: claude-opus-4-6}\n"
    )
    result = CliRunner().invoke(models, ["--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "the built-in table (ANTHROPIC_API_KEY is not set)" in result.output
    assert any(
        line.split()[:5] == ["cheap", "claude-haiku-5-5", "haiku", "0.10", "0.50"]
        for line in result.output.splitlines()
    )
    assert "above 100,000 prompt tokens" in result.output

    result = CliRunner().invoke(models, ["--repo", str(tmp_path), "--json", "--offline"])
    data = json.loads(result.output)
    assert data["catalog"]["source"] == "static"
    assert data["tiers"][1]["model"]["capabilities"]["effort_levels"] == ["low", "medium", "high", "max"]
    assert data["tiers"][1]["prices"][0]["output"] == 25.0


def test_models_command_uses_the_models_api_and_flags_missing_prices(models_api, tmp_path, monkeypatch):
    from escalate.cli.models import models

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", models_api.url)
    (tmp_path / ".escalate.yml").write_text("tiers:\n  - {name: cheap, line: haiku}\n")
    result = CliRunner().invoke(models, ["--repo", str(tmp_path)])
    assert result.exit_code == 2  # claude-haiku-9 has no price
    assert "Models: the Models API" in result.output
    assert "NO PRICE" in result.output and "Set prices.claude-haiku-9.input" in result.output
    assert (tmp_path / ".escalate" / "models.json").is_file()


def test_from_api_against_the_simulated_api_agrees_with_the_static_table(sim, tmp_path):
    catalog = Catalog.from_api(sim.provider(), tmp_path / "models.json", ttl_s=3600)
    assert catalog.source == "api"
    static = Catalog.static()
    shared = [m for m in catalog.models if m in static]
    assert len(shared) >= 10
    for model_id in shared:
        model = catalog.get(model_id)
        known = static.get(model_id)
        assert (model.line, model.lifecycle, model.created_at) == (
            known.line,
            known.lifecycle,
            known.created_at,
        )
        assert model.capabilities.effort_levels == known.capabilities.effort_levels, model_id
        assert model.capabilities.thinking_types == known.capabilities.thinking_types, model_id
        assert (model.context_window, model.max_output) == (known.context_window, known.max_output), model_id
    assert catalog.resolve(TierConfig(name="h", line="haiku")).id == "claude-haiku-5-5"
