"""The page forms' number fields: a value outside a field's bounds is one sentence naming the field."""

from __future__ import annotations

import pytest

from streaming.bench.form import BENCH_FIELDS, MAX_TOKENS, form_problem

GOOD = {"repeats": 1, "requests": 0, "concurrency": 8, "rate": 0.0, "max_tokens": 128, "warmup": 1}


def test_the_page_defaults_fit() -> None:
    assert form_problem(GOOD) is None


@pytest.mark.parametrize(("key", "value", "label"), [("repeats", 0, "Repeats"), ("concurrency", 0, "Concurrency"), ("rate", -2.0, "Rate"),
                                                     ("max_tokens", 100_000, "Max tokens"), ("warmup", 50, "Warmup requests"),
                                                     ("requests", -1, "Total requests"), ("repeats", 2.5, "Repeats")])  # fmt: skip
def test_each_bad_value_names_its_field_and_the_fix(key: str, value: float, label: str) -> None:
    why = form_problem({**GOOD, key: value})
    assert why is not None and why.startswith(f"{label} must be") and f"it is {value:g}" in why and why.count(".") <= 3
    f = BENCH_FIELDS[key]
    assert f"from {f.low:g}" in why and f"to {f.high:g}" in why


def test_empty_and_nan_are_refused() -> None:
    assert MAX_TOKENS.problem(None) == "Max tokens must be a whole number from 1 to 32768; the field is empty."
    assert MAX_TOKENS.problem(float("nan")) is not None and MAX_TOKENS.problem(1) is None and MAX_TOKENS.problem(32_768) is None
