"""Cost lookups: the cached per-token rates give exactly what genai-prices computes; unknown prices warn once."""

from __future__ import annotations

import random
import warnings

import genai_prices as gp
import pytest

from podium.messages import ModelResponse
from podium.providers import pricing
from podium.providers.pricing import UnknownPriceWarning, compute_cost, cost_of
from podium.usage import Usage


def _reference(provider: str, model: str, usage: Usage) -> float | None:
    try:
        calc = gp.calc_price(gp.Usage(**pricing._counts(usage)), model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return float(calc.total_price)


def test_cached_rates_equal_genai_prices_on_every_kind_of_price() -> None:
    rng = random.Random(7)
    snapshot = gp.data_snapshot.get_snapshot()
    models = [(p.id, m.id) for p in snapshot.providers for m in m_list(p)]
    tiered = [
        (p.id, m.id)
        for p in snapshot.providers
        for m in m_list(p)
        if isinstance(m.prices, gp.types.ModelPrice)
        and any(isinstance(v, gp.types.TieredPrices) for v in vars(m.prices).values())
    ]
    assert tiered, "the snapshot has tiered prices to check the fallback with"
    sample = rng.sample(models, 150) + tiered[:20] + [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownPriceWarning)
        for provider, model in sample:
            for _ in range(4):
                i = rng.randint(0, 2_000_000)
                usage = Usage(
                    input_tokens=i,
                    output_tokens=rng.randint(0, 60_000),
                    cache_read_tokens=rng.randint(0, i // 2) if rng.random() < 0.5 else 0,
                    cache_write_tokens=rng.randint(0, i // 4) if rng.random() < 0.5 else 0,
                )
                assert compute_cost(provider, model, usage) == _reference(provider, model, usage), (
                    provider,
                    model,
                    usage,
                )
                checked += 1
    assert checked == len(sample) * 4


def m_list(provider: object) -> list[object]:
    return list(getattr(provider, "models", []))


def test_repeated_lookups_reuse_the_cached_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100)
    first = compute_cost("openai", "gpt-4o-mini", usage)
    assert first is not None
    assert first > 0

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("looked up again")

    monkeypatch.setattr(gp.data_snapshot.DataSnapshot, "find_provider_model", fail)
    assert compute_cost("openai", "gpt-4o-mini", usage) == first


def test_a_new_price_snapshot_is_used() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    before = compute_cost("openai", "gpt-4o-mini", usage)
    bundled = gp.data_snapshot.get_snapshot()
    custom = gp.data_snapshot.DataSnapshot(
        providers=[p for p in bundled.providers if p.id != "openai"], from_auto_update=True
    )
    gp.data_snapshot.set_custom_snapshot(custom)
    try:
        with pytest.warns(UnknownPriceWarning):
            assert compute_cost("openai", "gpt-4o-mini", usage) is None
    finally:
        gp.data_snapshot.set_custom_snapshot(None)
    assert compute_cost("openai", "gpt-4o-mini", usage) == before


def test_unknown_price_is_none_with_one_warning() -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    with pytest.warns(UnknownPriceWarning, match="no-such-model-for-pricing"):
        assert compute_cost("openai", "no-such-model-for-pricing", usage) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPriceWarning)
        assert compute_cost("openai", "no-such-model-for-pricing", usage) is None


def test_local_and_test_providers() -> None:
    usage = Usage(input_tokens=10, output_tokens=10)
    assert compute_cost("local", "smollm2", usage) == 0.0
    assert compute_cost("ollama", "llama3", usage) == 0.0
    assert compute_cost("test", "scripted", usage) is None
    assert compute_cost("openai", None, usage) is None


def test_cost_of_is_worked_out_when_read() -> None:
    from podium.usage import DeferredCost

    usage = Usage(input_tokens=1000, output_tokens=100)
    deferred = cost_of("openai", "gpt-4o-mini", usage)
    assert isinstance(deferred, DeferredCost)
    response = ModelResponse("hi", provider="openai", model="gpt-4o-mini", usage=usage, cost=deferred)
    assert response.cost == compute_cost("openai", "gpt-4o-mini", usage) is not None
    assert cost_of("local", "smollm2", usage) == 0.0 and cost_of("test", "echo", usage) is None


def test_a_run_that_never_reads_a_cost_never_loads_the_price_table() -> None:
    import subprocess
    import sys

    script = """
import sys
from podium import Agent
from podium.messages import ModelResponse
from podium.providers.pricing import cost_of
from podium.testing import FunctionModel
from podium.usage import Usage

def answer(messages, info):
    usage = Usage(input_tokens=10, output_tokens=2)
    return ModelResponse("hi", provider="openai", model="gpt-4o-mini", usage=usage,
                         cost=cost_of("openai", "gpt-4o-mini", usage))

result = Agent(FunctionModel(answer)).run("hello")
assert result.output == "hi"
print("genai_prices" in sys.modules)
print(result.cost is not None and result.cost > 0)
print("genai_prices" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"]
