"""The Benchmark and Arena pages' number fields: their bounds, and one sentence naming the field when a value is outside them.

The pages let the widget take whatever is typed (no client-side min/max, which would keep the last valid value
and run it silently) and check it here, so what runs is what the screen shows, or nothing runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberField:
    """One number field of a page form: its label, its bounds, and what its lowest value means (if anything special)."""

    label: str
    low: float
    high: float
    integer: bool = True
    low_means: str = ""  # e.g. "closed loop": said in the sentence so the fix is clear

    def problem(self, value: float | None) -> str | None:
        """None when ``value`` fits; else one sentence naming the field, the value and the fix."""
        kind = "a whole number" if self.integer else "a number"
        low = f"{self.low:g}" + (f" ({self.low_means})" if self.low_means else "")
        fix = f"{self.label} must be {kind} from {low} to {self.high:g}"
        if value is None:
            return f"{fix}; the field is empty."
        if value != value or not self.low <= value <= self.high or (self.integer and value != int(value)):  # NaN too
            return f"{fix}; it is {value:g}. Change it, and nothing is sent until then."
        return None


MAX_TOKENS = NumberField("Max tokens", 1, 32_768)  # the CLI's bound (chat --max-tokens)
BENCH_FIELDS: dict[str, NumberField] = {
    "repeats": NumberField("Repeats", 1, 100),
    "requests": NumberField("Total requests", 0, 100_000, low_means="all prompts × repeats"),
    "concurrency": NumberField("Concurrency", 1, 1000),
    "rate": NumberField("Rate", 0, 1000, integer=False, low_means="closed loop"),
    "max_tokens": MAX_TOKENS,
    "warmup": NumberField("Warmup requests", 0, 20),
}


def form_problem(values: Mapping[str, float | None], fields: Mapping[str, NumberField] = BENCH_FIELDS) -> str | None:
    """The first field of ``fields`` whose value in ``values`` is out of bounds, as one sentence (None: all fit)."""
    for key, f in fields.items():
        why = f.problem(values.get(key))
        if why:
            return why
    return None
