"""One grouping everywhere: rows that differ in API or reasoning effort never share a throughput figure, a CI or a card."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from streaming.analysis.grouping import group_keys
from streaming.analysis.report import html_report
from streaming.analysis.tables import headlines, percentile_table, summarize
from streaming.core.record import StreamRecord
from streaming.store import Store, load_requests

WALL0 = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()


def rec(api: str, effort: str, t0: float, ttft: float, i: int) -> StreamRecord:
    return StreamRecord(deployment="gpt-x", provider="simulated", model="gpt-x", api=api, reasoning_effort=effort, stream=True, status="ok",
                        t0_monotonic=t0, ttft_s=ttft, t_last_token_s=ttft + 0.5, e2e_s=1.0, output_tokens=10, input_tokens=4,
                        response_id=f"r{i}", chunk_times_s=[ttft], chunk_chars=[1])  # fmt: skip


@pytest.fixture
def df(tmp_path: Path) -> pd.DataFrame:
    """One run: chat/low sends 4 requests at 0..3 s (window 4 s), responses/high 2 requests at 0 and 9 s (window 10 s).

    TTFT: low 0.1 s on every request, high 2.0 s; 2 prompts each."""
    plan = [("chat", "low", t, 0.1) for t in (0.0, 1.0, 2.0, 3.0)] + [("responses", "high", t, 2.0) for t in (0.0, 9.0)]
    with Store(tmp_path / "g.db") as st:
        run_id = st.create_run("bench", {})
        for i, (api, effort, t0, ttft) in enumerate(plan):
            st.add_record(run_id, rec(api, effort, 100.0 + t0, ttft, i), seq=i, prompt_id=f"p{i % 2}", clock_offset_s=WALL0 - 100.0)
    return load_requests(tmp_path / "g.db")


def test_throughput_rows_split_by_api_and_effort(df: pd.DataFrame) -> None:
    s = summarize(df).set_index(["api", "reasoning_effort"])
    assert s.loc[("chat", "low"), "requests_per_s"] == pytest.approx(4 / 4.0)  # 4 requests, first send 0 s, last end 4 s
    assert s.loc[("responses", "high"), "requests_per_s"] == pytest.approx(2 / 10.0)
    assert s.loc[("chat", "low"), "output_tokens_per_s"] == pytest.approx(40 / 4.0)


def test_percentiles_and_cards_never_mix_efforts(df: pd.DataFrame) -> None:
    long = percentile_table(df)
    med = long[(long.metric == "ttft_s") & (long.q == 0.5)].set_index("reasoning_effort")
    assert med.loc["low", "value"] == pytest.approx(0.1) and med.loc["high", "value"] == pytest.approx(2.0)
    assert med.loc["low", "hi"] == pytest.approx(0.1) and med.loc["high", "lo"] == pytest.approx(2.0)  # each CI from its own rows
    cards = {h.label(): h for h in headlines(df)}
    assert set(cards) == {"gpt-x · chat · effort low", "gpt-x · responses · effort high"}
    assert cards["gpt-x · chat · effort low"].ttft.value == pytest.approx(0.1) and cards["gpt-x · chat · effort low"].n_requests == 4


def test_every_table_uses_the_same_keys(df: pd.DataFrame) -> None:
    keys = group_keys(df)
    assert keys == ["deployment", "temperature", "mode", "api", "reasoning_effort"]
    assert set(keys) <= set(summarize(df).columns) and set(keys) <= set(percentile_table(df).columns)
    one = df[df["api"] == "chat"]
    assert "api" not in group_keys(one) and "api" not in percentile_table(one).columns  # one api: no api column
    page = html_report(df, title="t")
    assert "effort low" in page and "effort high" in page
