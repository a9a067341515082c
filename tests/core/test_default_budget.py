"""Per-deployment default max tokens: every built-in has one, and a reasoning one leaves room for the answer at high effort."""

from __future__ import annotations

import pytest

from streaming.core.config import BUILTINS, EFFORT_SCALE, ConfigError, Deployment, parse_deployment


@pytest.mark.parametrize("dep", BUILTINS, ids=[d.name for d in BUILTINS])
def test_each_builtin_has_a_budget_that_fits_its_answer(dep: Deployment) -> None:
    assert dep.default_max_tokens and dep.max_tokens_default() == dep.default_max_tokens
    if dep.sim is not None:
        thinking = round(dep.sim.reasoning_tokens * EFFORT_SCALE["high"])
        assert dep.default_max_tokens >= thinking + dep.sim.output_tokens, (thinking, dep.sim.output_tokens)


def test_a_file_entry_may_set_it_and_falls_back_otherwise() -> None:
    d = parse_deployment({"name": "v", "provider": "compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m", "default_max_tokens": 300}, "f")
    assert d.max_tokens_default(128) == 300
    r = parse_deployment({"name": "r", "provider": "compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m", "reasoning": True}, "f")
    assert r.max_tokens_default(128) == 1024
    with pytest.raises(ConfigError, match="default_max_tokens"):
        parse_deployment({"name": "x", "provider": "local", "default_max_tokens": 0}, "f")
