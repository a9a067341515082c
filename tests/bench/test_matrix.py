"""Matrix expansion, pairing, interleaved seeded order, Poisson schedule, config file, --fail-if parsing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streaming.analysis.tables import summarize
from streaming.bench.gates import failed_conditions, parse_condition
from streaming.bench.matrix import (
    BenchConfig,
    expand,
    poisson_schedule,
    resolve_prompts,
)
from streaming.bench.prompts import Prompt, builtin, from_file
from streaming.bench.settings import load_config, parse_temperatures
from streaming.errors import ConfigError


def cfg(**kw: object) -> BenchConfig:
    base = dict(deployments=["sim-fast", "sim-slow"], temperatures=[0.0, 0.7], mode="both", repeats=3)
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


PROMPTS = [Prompt(f"p{i}", f"prompt {i}", "short") for i in range(4)]


def test_expansion_covers_every_cell_prompt_and_repeat_once() -> None:
    items = expand(cfg(), PROMPTS)
    assert len(items) == 2 * 2 * 2 * 4 * 3
    counts = Counter((it.deployment, it.temperature, it.mode, it.prompt.id) for it in items)
    assert set(counts.values()) == {3} and len(counts) == 2 * 2 * 2 * 4
    assert [it.seq for it in items] == list(range(len(items)))


def test_stream_and_non_stream_are_paired_on_the_same_prompt() -> None:
    items = expand(cfg(), PROMPTS)
    pairs: dict[str, list[str]] = {}
    for it in items:
        pairs.setdefault(it.pair_id, []).append(it.mode)
    assert len(pairs) == 2 * 2 * 4 * 3
    assert all(sorted(m) == ["non-stream", "stream"] for m in pairs.values())
    by_pair = {}
    for it in items:
        by_pair.setdefault(it.pair_id, set()).add(it.prompt.text)
    assert all(len(texts) == 1 for texts in by_pair.values())


def test_order_is_interleaved_in_blocks_and_seeded() -> None:
    c = cfg()
    items = expand(c, PROMPTS)
    n_cells = 8
    for start in range(0, len(items), n_cells):  # each block holds every cell once, on one prompt
        block = items[start : start + n_cells]
        assert len({it.cell for it in block}) == n_cells
        assert len({it.prompt.id for it in block}) == 1
    cells_in_order = [it.cell for it in items]
    assert cells_in_order != sorted(cells_in_order, key=str)  # not grouped by cell
    first_half = Counter(it.deployment for it in items[: len(items) // 2])
    assert first_half["sim-fast"] == first_half["sim-slow"]  # drift cannot land on one deployment
    assert [it.cell for it in expand(cfg(), PROMPTS)] == cells_in_order  # same seed, same order
    assert [it.cell for it in expand(cfg(seed=1), PROMPTS)] != cells_in_order


def test_requests_total_cycles_through_prompts() -> None:
    items = expand(cfg(requests=20, deployments=["sim-fast"], temperatures=[None]), PROMPTS)
    assert len(items) == 20
    assert sorted(Counter(it.prompt.id for it in items).values()) == [4, 4, 6, 6]  # 10 blocks over 4 prompts
    assert Counter(it.mode for it in items) == {"stream": 10, "non-stream": 10}


def test_poisson_schedule_statistics() -> None:
    rate = 5.0
    times = poisson_schedule(20_000, rate, seed=3)
    assert times[0] == 0.0 and times == poisson_schedule(20_000, rate, seed=3)
    assert times != poisson_schedule(20_000, rate, seed=4)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential: CV = 1
    from scipy import stats  # here, not at the top: each worker imports every test module, and scipy.stats costs 1.2 s of CPU

    assert stats.kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > 0.01
    counts = np.histogram(times, bins=np.arange(0, times[-1], 1.0))[0]
    assert counts.var() / counts.mean() == pytest.approx(1.0, rel=0.1)  # Poisson counts: variance = mean


def test_rate_mode_items_carry_their_intended_send_time() -> None:
    items = expand(cfg(rate=10.0), PROMPTS)
    assert [it.scheduled_s for it in items] == poisson_schedule(len(items), 10.0, 0)
    assert all(it.scheduled_s is None for it in expand(cfg(), PROMPTS))


def test_prompts_builtin_file_and_jsonl(tmp_path: Path) -> None:
    assert {p.size for p in builtin("mixed")} == {"short", "medium", "long"}
    assert all(len(p.text) > 1500 for p in builtin("long")) and all(len(p.text) < 80 for p in builtin("short"))
    lines = tmp_path / "p.txt"
    lines.write_text("first\n\nsecond\n")
    assert [p.text for p in from_file(lines)] == ["first", "second"]
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"id": "a", "text": "hello", "size": "short"}\n{"prompt": "bye"}\n')
    got = from_file(jl)
    assert got[0] == Prompt("a", "hello", "short") and got[1].text == "bye" and got[1].id == "p-2"
    assert [p.text for p in resolve_prompts(BenchConfig(prompts=["x", "y"]))] == ["x", "y"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(ConfigError, match="line 1"):
        from_file(bad)


def test_config_file_with_inline_deployment(tmp_path: Path) -> None:
    f = tmp_path / "bench.toml"
    f.write_text('temperatures = [0, 0.7]\nmode = "stream"\nrequests = 5\nprompts = ["a", {id = "b", text = "bee"}]\n'
                 '[[deployments]]\nname = "sim-mine"\nprovider = "simulated"\nttft_ms = 10\n')  # fmt: skip
    c = load_config(f)
    assert c.temperatures == [0.0, 0.7] and c.mode == "stream" and c.requests == 5
    assert c.deployments[0].name == "sim-mine" and c.deployments[0].sim.ttft_ms == 10  # type: ignore[union-attr]
    f.write_text("concurency = 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(f)
    assert parse_temperatures("0, 0.7,default") == [0.0, 0.7, None]
    with pytest.raises(ConfigError):
        parse_temperatures("hot")


def test_fail_if_conditions() -> None:
    df = pd.DataFrame({"deployment": ["d"] * 4, "temperature": [np.nan] * 4, "mode": ["stream"] * 4, "status": ["ok", "ok", "ok", "error"],
                       "ttft_s": [0.1, 0.2, 0.3, np.nan], "e2e_s": [1.0, 1.0, 1.0, 0.5], "tpot_s": [0.01] * 4, "tokens_per_s": [100.0] * 4,
                       "perceived_wait_s": [0.1, 0.2, 0.3, np.nan], "retries": [0, 1, 0, 2], "retry_wait_s": [0, 0.5, 0, 1.0],
                       "schedule_lag_s": [np.nan] * 4})  # fmt: skip
    s = summarize(df)
    assert s.loc[0, "n"] == 4 and s.loc[0, "errors"] == 1 and s.loc[0, "retries"] == 3
    assert s.loc[0, "ttft_p50"] == pytest.approx(0.2)
    assert failed_conditions(s, ["ttft_p95 > 0.8"]) == []
    assert len(failed_conditions(s, ["ttft_p95 > 0.2", "error_rate >= 0.25"])) == 2
    assert parse_condition(" ttft_p99<=1e-3 ") == ("ttft_p99", "<=", 0.001)
    with pytest.raises(ConfigError, match="unknown metric"):
        failed_conditions(s, ["ttfb_p95 > 1"])
    with pytest.raises(ConfigError):
        parse_condition("ttft_p95 is big")
