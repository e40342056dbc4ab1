"""Every model in the simulator's catalogue x every effort/thinking setting the router can produce:
the request built from the router's plan goes through the real SDK to the sim, and none is a 400."""

from decimal import Decimal

import pytest

from escalate.config import load_config
from escalate.llm.catalog import Catalog
from escalate.llm.client import MeteredClient, ModelRequest
from escalate.llm.pricing import Budget, PriceTable
from escalate.routing.route import plan_tier
from escalate.routing.rules import Classification, Signals
from escalate.sim.catalogue import SimCatalogue
from escalate.sim.testing import running_sim

TOOLS = [{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]


def klass(complexity: str, error_cost: str = "low") -> Classification:
    return Classification(complexity, error_cost, ["test"], Signals(kind="test"))


# name -> (class, config overrides, tier overrides): what the router produces, including the
# configured extremes (max effort, an explicit budget, a tight or zero thinking cap).
SETTINGS = {
    "mechanical": (klass("mechanical"), {}, {}),
    "generative": (klass("generative"), {}, {}),
    "reasoning": (klass("reasoning"), {}, {}),
    "security": (klass("generative", "high"), {}, {}),
    "hard-max": (klass("reasoning", "high"), {"router": {"hard_effort": "max"}}, {}),
    "tier-xhigh": (klass("generative"), {}, {"effort": "xhigh"}),
    "tier-budget": (klass("mechanical"), {}, {"thinking_budget": 3000, "max_tokens": 4096}),
    "tight-cap": (
        klass("reasoning"),
        {"budget": {"max_thinking_tokens_per_call": 1500}},
        {"max_tokens": 2600},
    ),
    "no-thinking": (klass("reasoning"), {"budget": {"max_thinking_tokens_per_call": 0}}, {}),
}
MODELS = sorted(m.id for m in SimCatalogue.load().models if m.lifecycle != "retired")


@pytest.fixture(scope="module")
def shared_sim():
    with running_sim() as handle:
        yield handle


@pytest.fixture(scope="module")
def catalog(shared_sim, tmp_path_factory):
    # The Models API of the sim, as a run sees it (capabilities from the API, not the static table).
    return Catalog.from_api(shared_sim.provider(), tmp_path_factory.mktemp("cache") / "models.json", 0)


@pytest.fixture(scope="module")
def llm(shared_sim, catalog):
    return MeteredClient(
        catalog, PriceTable.load(), Budget(Decimal(1000)), lambda r: None, provider=shared_sim.provider()
    )


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("repo")


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("model_id", MODELS)
def test_router_settings_are_accepted(shared_sim, catalog, llm, empty_dir, model_id, setting):
    k, overrides, tier_over = SETTINGS[setting]
    line = catalog.get(model_id).line or "x"
    config = load_config(
        empty_dir, {**overrides, "tiers": [{"name": f"{line}-tier", "model": model_id, **tier_over}]}
    )
    tier, model = config.tiers[0], catalog.get(model_id)
    decisions: list = []
    plan = plan_tier(tier, model, k, config, decisions)
    request = ModelRequest(
        model,
        "system",
        [{"role": "user", "content": "hi"}],
        plan.max_tokens,
        TOOLS,
        effort=plan.effort,
        thinking=plan.thinking,
    )
    reply = llm.send(request)  # a 400 raises ModelCallError
    assert reply.record.stop_reason == "end_turn"
    body = shared_sim.messages_requests()[-1]["body"]
    assert body["model"] == model_id
    caps = model.capabilities
    sent_effort = (body.get("output_config") or {}).get("effort")
    assert sent_effort is None or sent_effort in caps.effort_levels
    configured_max = setting == "hard-max" or tier_over.get("effort") == "max"
    assert sent_effort != "max" or configured_max  # max only when configured
    thinking = body.get("thinking")
    cap = config.budget.max_thinking_tokens_per_call
    if thinking and thinking["type"] == "enabled":
        assert thinking["budget_tokens"] <= cap and thinking["budget_tokens"] < body["max_tokens"]
    if thinking and thinking["type"] == "adaptive":
        assert body["max_tokens"] <= max(cap + 2048, tier.max_tokens)
    if k.complexity == "mechanical" and tier.thinking_budget is None or cap == 0:
        assert thinking is None  # no extended thinking asked for where it does not help
    kinds = {d.kind for d in decisions}
    assert {"effort", "thinking"} <= kinds  # every setting comes with its reason


def test_report_defaults_on_opus_and_haiku(catalog, tmp_path):
    """Opus at medium for routine work and high for security; Haiku 4.5 thinks beyond mechanical."""
    config = load_config(tmp_path)
    opus, haiku = config.tier("opus"), config.tier("haiku")

    def plan(tier, k):
        return plan_tier(tier, catalog.resolve(tier), k, config, [])

    assert plan(opus, klass("generative")).effort == "medium"
    assert plan(opus, klass("generative", "high")).effort == "high"
    assert plan(opus, klass("reasoning")).effort == "high"
    assert plan(haiku, klass("generative")).thinking == {"type": "enabled", "budget_tokens": 4096}
    assert plan(haiku, klass("mechanical")).thinking is None
    assert plan(haiku, klass("generative")).effort is None  # Haiku 4.5 rejects effort
