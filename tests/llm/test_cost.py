from decimal import Decimal

import pytest

from escalate.config import PriceOverride
from escalate.errors import PriceError
from escalate.llm.pricing import Budget, BudgetExceeded, PriceTable, Usage, fmt_usd, usd


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


# The routing report's worked examples: (input, output) -> haiku-4-5 / sonnet-4-5 / opus-4-6 cost.
REPORT_EXAMPLES = [
    (2_000, 500, "0.0045", "0.0135", "0.0225"),
    (5_000, 6_000, "0.035", "0.105", "0.175"),
    (50_000, 20_000, "0.15", "0.45", "0.75"),
    (100_000, 15_000, "0.175", "0.525", "0.875"),
]


@pytest.mark.parametrize(("tokens_in", "tokens_out", "haiku", "sonnet", "opus"), REPORT_EXAMPLES)
def test_routing_report_worked_examples(table, tokens_in, tokens_out, haiku, sonnet, opus):
    usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    assert table.cost("claude-haiku-4-5", usage) == Decimal(haiku)
    assert table.cost("claude-sonnet-4-5", usage) == Decimal(sonnet)
    assert table.cost("claude-opus-4-6", usage) == Decimal(opus)


def test_cache_multipliers_on_input_price(table):
    # 1M tokens each: 5m write 1.25x, 1h write 2x, read 0.1x of sonnet's $3 input.
    assert table.cost("claude-sonnet-4-6", Usage(cache_write_5m=1_000_000)) == Decimal("3.75")
    assert table.cost("claude-sonnet-4-6", Usage(cache_write_1h=1_000_000)) == Decimal("6")
    assert table.cost("claude-sonnet-4-6", Usage(cache_read=1_000_000)) == Decimal("0.3")


def test_batch_discount_stacks_with_cache_multipliers(table):
    usage = Usage(input_tokens=10_000, output_tokens=2_000, cache_write_5m=4_000, cache_read=50_000)
    full = table.cost("claude-opus-4-6", usage)
    # 10k*5 + 2k*25 + 4k*6.25 + 50k*0.5 per MTok = 0.05 + 0.05 + 0.025 + 0.025
    assert full == Decimal("0.15")
    assert table.cost("claude-opus-4-6", usage, batch=True) == Decimal("0.075")


def test_thinking_tokens_are_not_billed_twice(table):
    plain = Usage(input_tokens=1_000, output_tokens=3_000)
    with_thinking = Usage(input_tokens=1_000, output_tokens=3_000, thinking_tokens=2_500)
    assert table.cost("claude-haiku-4-5", with_thinking) == table.cost("claude-haiku-4-5", plain)


def test_long_context_tier_switches_above_100k_prompt(table):
    at_limit = Usage(input_tokens=90_000, cache_read=10_000, output_tokens=1_000)
    over = Usage(input_tokens=90_000, cache_read=10_001, output_tokens=1_000)
    # <= 100k: 90k*0.10 + 10k*0.01 + 1k*0.50 per MTok
    assert table.cost("claude-haiku-5-5", at_limit) == Decimal("0.0096")
    # > 100k: the whole request at the second rate, output included
    assert table.cost("claude-haiku-5-5", over) == Decimal("0.045") + Decimal("0.00050005") + Decimal(
        "0.0025"
    )


def test_worst_case_uses_output_price_and_long_context(table):
    assert table.worst_case("claude-opus-4-6", 2_000, 8_192) == Decimal("0.2148")
    assert table.worst_case("claude-haiku-5-5", 100_000, 1_000) == Decimal("0.0105")
    assert table.worst_case("claude-haiku-5-5", 100_001, 1_000) == Decimal("0.0525005")
    # cache writes in the request are priced at the dearest (1h) write rate
    assert table.worst_case("claude-haiku-4-5", 0, 0, cache_write_tokens=1_000_000) == Decimal("2")


def test_unknown_model_price_error_names_the_config_key(table):
    with pytest.raises(PriceError) as err:
        table.cost("claude-foo-9", Usage(input_tokens=1))
    assert str(err.value) == (
        "No price for model 'claude-foo-9'. Set prices.claude-foo-9.input and prices.claude-foo-9.output "
        "in .escalate.yml (USD per million tokens)."
    )
    with pytest.raises(PriceError, match="prices.claude-foo-9"):
        table.worst_case("claude-foo-9", 10, 10)


def test_overrides_add_a_model_with_derived_cache_prices():
    table = PriceTable.load({"claude-foo-9": PriceOverride(input=2, output=8)})
    price = table.price("claude-foo-9").rate_for(0)
    assert (price.cache_write_5m, price.cache_write_1h, price.cache_read) == (
        Decimal("2.5"),
        4,
        Decimal("0.2"),
    )
    assert table.cost("claude-foo-9", Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == 10
    assert table.source("claude-foo-9") == "config prices.claude-foo-9"


def test_override_of_a_known_model_keeps_unset_prices():
    table = PriceTable.load({"claude-sonnet-5-5": {"output": 12}})
    rate = table.price("claude-sonnet-5-5").rate_for(0)
    assert (rate.input, rate.output, rate.cache_read) == (Decimal("2.0"), 12, Decimal("0.1"))
    # a new input price re-derives the cache prices that are not given
    rate = PriceTable.load({"claude-sonnet-5-5": {"input": 4}}).price("claude-sonnet-5-5").rate_for(0)
    assert (rate.cache_write_5m, rate.cache_read) == (Decimal("5.00"), Decimal("0.4"))


def test_new_model_override_without_output_is_an_error():
    with pytest.raises(PriceError, match=r"set prices\.claude-foo-9\.output"):
        PriceTable.load({"claude-foo-9": {"input": 1}})


def test_table_has_as_of_and_batch_discount(table):
    assert table.as_of == "2026-11-25"
    assert table.batch_discount == Decimal("0.5")


def test_usage_from_api_dict_with_cache_creation():
    usage = Usage.from_api(
        {
            "input_tokens": 50,
            "output_tokens": 503,
            "cache_creation_input_tokens": 248,
            "cache_read_input_tokens": 1800,
            "cache_creation": {"ephemeral_5m_input_tokens": 148, "ephemeral_1h_input_tokens": 100},
            "output_tokens_details": {"thinking_tokens": 310},
        }
    )
    assert usage == Usage(50, 503, 148, 100, 1800, 310)
    assert usage.prompt_tokens == 50 + 248 + 1800


def test_usage_from_sdk_object_without_cache_creation():
    from anthropic.types import Usage as SdkUsage

    sdk = SdkUsage(
        input_tokens=10, output_tokens=20, cache_creation_input_tokens=30, cache_read_input_tokens=None
    )
    assert Usage.from_api(sdk) == Usage(input_tokens=10, output_tokens=20, cache_write_5m=30)


def test_usage_from_api_never_drops_cache_writes():
    partial = {
        "input_tokens": 1,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_1h_input_tokens": 100},
    }
    assert Usage.from_api(partial) == Usage(input_tokens=1, cache_write_5m=200, cache_write_1h=100)
    assert Usage.from_api({"output_tokens": None, "cache_creation": None}) == Usage()


def test_usage_adds():
    total = Usage(1, 2, 3, 4, 5, 6) + Usage(10, 20, 30, 40, 50, 60)
    assert total == Usage(11, 22, 33, 44, 55, 66)


def test_budget_checks_worst_case_before_a_call(table):
    budget = Budget(Decimal("0.23"))
    worst = table.worst_case("claude-opus-4-6", 2_000, 8_192)  # $0.2148
    budget.check(worst)
    budget.add(table.cost("claude-opus-4-6", Usage(input_tokens=2_000, output_tokens=500)))  # $0.0225
    assert budget.remaining == Decimal("0.2075")
    with pytest.raises(BudgetExceeded) as err:
        budget.check(worst)
    assert (err.value.limit, err.value.spent, err.value.needed) == (Decimal("0.23"), Decimal("0.0225"), worst)
    assert "budget.max_cost_usd" in str(err.value)
    budget.check(Decimal("0.2075"))  # exactly up to the limit is allowed


def test_money_formatting():
    assert usd(Decimal("0.01234567")) == 0.012346
    assert fmt_usd(Decimal("0.0135")) == "$0.0135"
    assert fmt_usd(Decimal("2")) == "$2.00"
    assert fmt_usd(Decimal("0.175")) == "$0.175"
    assert fmt_usd(Decimal("0.0000456")) == "$0.000046"
