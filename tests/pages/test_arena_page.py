"""The arena: lanes over the real built-in server, the finish line, Stop stops every lane, linked groups, paired statistics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from streaming import store
from streaming.analysis.arena_stats import compare_deployments, pairs_sentence
from streaming.core.client import Client
from streaming.core.config import load_deployments
from streaming.core.request import LLMRequest
from streaming.demo.arena import Arena, arena_problem, place_line
from streaming.store.samples import load_samples

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "arena.py")
LANES = """
[[deployments]]
name = "lane-quick"
provider = "simulated"
ttft_ms = 40
tokens_per_s = 400
output_tokens = 20
jitter = 0

[[deployments]]
name = "lane-slow"
provider = "simulated"
ttft_ms = 400
tokens_per_s = 200
output_tokens = 20
jitter = 0
capacity = 2

[[deployments]]
name = "lane-long"
provider = "simulated"
ttft_ms = 30
tokens_per_s = 20
output_tokens = 400
"""


@pytest.fixture
def env(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "deployments.toml").write_text(LANES)
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(tmp_path / "deployments.toml"))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "arena.db"))
    return tmp_path


def test_two_to_four_lanes() -> None:
    assert arena_problem(["a"]) == "Deployments: pick 2 to 4 to race (now 1)."
    assert arena_problem(["a", "b"]) is None and arena_problem(list("abcd")) is None and arena_problem(list("abcde"))


def test_finish_line_and_linked_group_on_the_page(env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    at.multiselect(key="arena_deps").set_value(["lane-slow", "lane-quick"]).run()
    for i in range(3):
        at.chat_input(key="arena_prompt").set_value(f"Why does latency matter? ({i})").run()
        assert not at.exception
    last = at.session_state["arena_last"]
    quick, slow = ({s["deployment"]: s for s in last["standings"]}[n] for n in ("lane-quick", "lane-slow"))
    assert quick["first_token_place"] == 1 and slow["first_token_place"] == 2
    assert quick["finish_place"] == 1 and slow["finish_place"] == 2
    assert 0.04 <= quick["ttft_s"] < slow["ttft_s"] and slow["ttft_s"] >= 0.4
    assert any("First token:" in m.value and m.value.index("lane-quick") < m.value.index("lane-slow") for m in at.markdown)
    assert any(c.value.startswith("first token 1st · finished 1st · TTFT") for c in at.caption)
    df = store.load_requests(str(env / "arena.db"), store.list_runs(str(env / "arena.db"))["run_id"].tolist())
    assert len(df) == 6 and df.groupby("pair_id")["deployment"].nunique().eq(2).all() and df["pair_id"].nunique() == 3
    c = compare_deployments(df, "lane-quick", "lane-slow")
    assert c is not None and c.n_pairs == 3 and c.median_a < c.median_b and c.diff.value > 0.3
    assert pairs_sentence(c).startswith("On the same 3 arena prompts, median TTFT lane-quick")


def test_one_lane_is_refused(env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="arena_deps").set_value(["lane-quick"]).run()
    assert at.info[0].value == "Deployments: pick 2 to 4 to race (now 1)."
    assert at.chat_input(key="arena_prompt").proto.disabled


def test_cancel_stops_every_lane(env: Path, server: Any) -> None:
    deps = load_deployments(str(env / "deployments.toml"))
    with Client(deps, server_url=server.url) as client:
        arena = Arena(client, [d for d in deps if d.name in ("lane-long", "lane-quick")], LLMRequest.chat("Tell me about cloud.", max_tokens=400)).start()
        long_lane = arena.columns[0] if arena.columns[0].deployment.name == "lane-long" else arena.columns[1]
        deadline = time.monotonic() + 20
        while len(long_lane.text.split()) < 5 and time.monotonic() < deadline:
            arena.pump(0.05)
        arena.cancel()
        recs = {r.deployment: r for r in arena.join()}
    assert recs["lane-long"].status == "cancelled" and 5 <= (recs["lane-long"].output_tokens or 0) < 400
    assert recs["lane-quick"].status in ("ok", "cancelled")
    long_row = next(r for r in arena.standings(final=True) if r.deployment == "lane-long")
    assert long_row.finish_place is None and "· stopped ·" in place_line(long_row)  # a stopped lane never "finishes"


@pytest.mark.alone
def test_metrics_page_pairs_deployments_from_arena_turns_and_shows_their_server_side(env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="arena_deps").set_value(["lane-quick", "lane-slow"]).run()
    for i in range(2):
        at.chat_input(key="arena_prompt").set_value(f"What is a token? ({i})").run()
    # the built-in server's /metrics, scraped during the race: beside each lane, what its server said
    last = at.session_state["arena_last"]
    assert not last["server_warnings"] and not last.get("save_error")
    server = last["server"]
    assert server["lane-slow"].startswith("server, ") and "1 running" in server["lane-slow"] and "KV cache 50 %" in server["lane-slow"], server
    assert "lane-quick" not in server  # no capacity: its server reports no queue gauges for it, so no line
    assert server["lane-slow"] in [c.value for c in at.caption]
    # stored with the turn in the demo run, on one clock with the records' sent_s
    db = str(env / "arena.db")
    (run,) = store.list_runs(db)["run_id"]
    df = store.load_requests(db, [run])
    samples = load_samples(db, [run], summary=True)
    busy = samples[(samples["deployment"] == "lane-slow") & (samples["common"] == "running") & (samples["value"] > 0)]
    assert len(busy) >= 2 and df["sent_s"].notna().all()  # one race each at least
    slow = df[df["deployment"] == "lane-slow"]
    # each busy scrape falls inside one of lane-slow's requests, as the client saw it (the races are 0.7 s apart), on the
    # clock of the records: 50 ms before, and up to 0.25 s after, because the last scrape is taken when the client read the end
    # and the server counts a request running until its handler returns (52 ms later in one full-suite run on 2 cores)
    for t in busy["t_s"]:
        assert ((slow["sent_s"] - 0.05 <= t) & (t <= slow["sent_s"] + slow["e2e_s"] + 0.25)).any(), (t, slow[["sent_s", "e2e_s"]])
    m = AppTest.from_file(str(Path(PAGE).parent / "metrics.py"), default_timeout=60).run()
    assert not m.exception
    assert "Server side" in [x.value for x in m.subheader]
    m.radio(key="cmp_by").set_value("deployments").run()
    m.selectbox(key="cmp_a").set_value("lane-quick (simulated)").run()
    m.selectbox(key="cmp_b").set_value("lane-slow (simulated)").run()
    assert any(x.value.startswith("On the same 2 arena prompts, median TTFT lane-quick") for x in m.markdown)


def test_a_saved_race_keeps_its_server_samples_and_names_what_could_not_be_scraped(env: Path, server: Any) -> None:
    import socket
    from dataclasses import replace

    from streaming.bench.scrape import scraper_for
    from streaming.demo.arena import SCRAPE_INTERVAL_S, save_arena

    with socket.socket() as s:  # bound and closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/metrics"
    quick = next(d for d in load_deployments(str(env / "deployments.toml")) if d.name == "lane-quick")
    lanes = [quick, replace(quick, name="lane-unscraped", model="lane-unscraped", metrics_url=dead)]
    db_path = env / "arena.db"
    with Client(lanes, server_url=server.url) as client, store.Store(db_path) as db:
        for _ in range(2):  # two races: the same warning is said once in the demo run
            arena = Arena(client, lanes, LLMRequest.chat("What is latency?", max_tokens=20))
            arena.start(scraper_for(None, "", lanes, server.url, SCRAPE_INTERVAL_S, clock=client.clock, keep=True))
            while arena.pump(0.05):
                pass
            records = arena.join()
            assert save_arena(records, db, "What is latency?", arena) is None
            (w,) = arena.server_warnings
            assert w.startswith(f"server metrics: could not scrape {dead} (lane-unscraped)") and "connection refused" in w
            assert {s.deployment for s in arena.samples} == {"lane-quick"}
        run = db.get_or_create_demo_run()
        assert [x for x in db.run_info(run)["warnings"] if x.startswith("server metrics:")] == [w]
    samples = load_samples(db_path, [run])
    df = store.load_requests(str(db_path), [run])
    assert set(samples["deployment"]) == {"lane-quick"} and len(df) == 4
    assert samples["t_s"].min() >= df["sent_s"].min() - 0.05 and samples["t_s"].max() <= (df["sent_s"] + df["e2e_s"]).max() + 0.5


def test_an_unknown_linked_lane_is_named_and_a_cut_lane_says_so(env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30)
    at.query_params["lanes"] = "lane-quick,lane-nope,lane-long"
    at.run()
    assert not at.exception
    said = at.warning[0].value
    assert "'lane-nope'" in said and "lane-quick, lane-slow, lane-long" in said  # which name, and the names there are
    assert at.multiselect(key="arena_deps").value == ["lane-quick", "lane-long"]  # the known ones still open
    at.number_input(key="arena_max_tokens").set_value(16).run()
    at.chat_input(key="arena_prompt").set_value("Tell me about the cloud.").run()
    assert not at.exception
    rows = {s["deployment"]: s for s in at.session_state["arena_last"]["standings"]}
    assert rows["lane-long"]["finish_reason"] == "length" and rows["lane-quick"]["finish_reason"] == "length"
    line = next(m.value for m in at.markdown if "First token:" in m.value)
    assert "cut at max tokens" in line.split("Finished:")[1]
    assert sum("cut at max tokens (finish reason length)" in c.value for c in at.caption) == 2
