"""One SDK client per environment and process: providers share its HTTP pool and TLS context."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

from escalate.llm.providers import anthropic as provider_module
from escalate.llm.providers.anthropic import AnthropicProvider, preload_sdk, shared_client


def test_providers_share_one_http_client_and_keep_their_own_options(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-shared-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/one")
    calls = AnthropicProvider()
    models = AnthropicProvider(timeout=30)
    assert calls.sdk._client is models.sdk._client  # one connection pool, one TLS context
    assert models.sdk.timeout == 30 and calls.sdk.timeout != 30
    assert calls.sdk.max_retries == 0 and models.sdk.max_retries == 0
    assert calls.base_url.startswith("http://127.0.0.1:9/one")


def test_a_changed_environment_gets_its_own_client(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-shared-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/one")
    one = shared_client()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/two")
    two = shared_client()
    assert one is not two and str(two.base_url).startswith("http://127.0.0.1:9/two")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-another-key")
    assert shared_client().api_key == "sk-another-key"


def test_the_preload_makes_the_client_the_run_then_uses(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-shared-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/preloaded")
    monkeypatch.setattr(provider_module, "_shared", {})
    monkeypatch.setattr(provider_module, "_preloading", set())
    preload_sdk()
    preload_sdk()  # the CLI starts it, run_task asks again: one thread, one client
    loading = [t for t in threading.enumerate() if t.name == "escalate-sdk-import"]
    assert len(loading) <= 1
    for thread in loading:
        thread.join(timeout=120)
    assert gc.isenabled()  # off only while the SDK was imported
    assert len(provider_module._shared) == 1
    made = next(iter(provider_module._shared.values()))
    assert AnthropicProvider().sdk._client is made._client


def test_the_collector_stays_off_while_the_preload_imports_the_sdk():
    # A fresh interpreter (this one has the SDK already): the import would run ~300 collections.
    code = (
        "import gc, threading\n"
        "from escalate.llm.providers.anthropic import preload_sdk\n"
        "before = sum(s['collections'] for s in gc.get_stats())\n"
        "preload_sdk()\n"
        "[t.join(120) for t in threading.enumerate() if t.name == 'escalate-sdk-import']\n"
        "import anthropic  # imported by the preload\n"
        "runs = sum(s['collections'] for s in gc.get_stats()) - before\n"
        "print(runs, gc.isenabled(), gc.get_freeze_count())\n"
    )
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-gc-test", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    collections, enabled, frozen = out.stdout.split()
    assert int(collections) < 30 and enabled == "True", out.stderr
    assert int(frozen) > 100_000  # the import's objects: later collections do not walk them again
