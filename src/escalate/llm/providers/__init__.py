"""Model providers: one module per API, each implementing ``llm.protocols.Provider``.

This is where escalate picks one. Callers outside ``llm/`` ask here (``default_provider``,
``request_params``, ``preload``) and never import a provider's module, so a second provider is
a module beside ``anthropic.py`` and the choice below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escalate.llm.client import ModelRequest
    from escalate.llm.protocols import Provider


def default_provider(*, timeout: float | None = None) -> Provider:
    """The provider a run uses when none is handed in: Anthropic's, reading ``ANTHROPIC_BASE_URL`` and
    ``ANTHROPIC_API_KEY`` from the environment."""
    from escalate.llm.providers.anthropic import AnthropicProvider

    return AnthropicProvider(timeout=timeout)


def request_params(request: ModelRequest) -> dict[str, Any]:
    """The default provider's request body for ``request``, made without a client (a dry run needs no key)."""
    from escalate.llm.providers.anthropic import build_params

    return build_params(request)


def preload() -> None:
    """Start importing the default provider's SDK on a thread, to hide the import behind other work."""
    from escalate.llm.providers.anthropic import preload_sdk

    preload_sdk()
