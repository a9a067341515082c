"""Multi-turn conversations: the JSONL format, the built-in set, a real run that feeds each real answer back
(checked against what the built-in server received), and --no-cache-reuse."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import orjson
import pytest
from conftest import http_get

from streaming.bench import prompts as P
from streaming.bench.conversation import turn_histories, unique_prefix
from streaming.bench.matrix import BenchConfig, resolve_prompts
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.core.request import LLMRequest
from streaming.errors import ConfigError
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests

CONVERSATION = {"id": "c1", "turns": 3, "messages": [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "What is a queue?"},
    {"role": "assistant", "content": "A RECORDED ANSWER that must not be sent."},
    {"role": "user", "content": "Give an example."},
    {"role": "assistant", "content": "ANOTHER RECORDED ANSWER."},
    {"role": "user", "content": "Thanks, summarise."},
]}  # fmt: skip


def digest(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(orjson.dumps([[m["role"], m["content"]] for m in messages])).hexdigest()


def sim(tokens: int = 6) -> Deployment:
    name = f"sim-conv-{uuid.uuid4().hex[:6]}"
    return Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=20, tokens_per_s=500, output_tokens=tokens))


def test_conversation_lines_parse_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "conv.jsonl"
    f.write_text(orjson.dumps(CONVERSATION).decode() + "\n" + orjson.dumps({"messages": [{"role": "user", "content": "Hi"}]}).decode() + "\n")
    conv, single = P.from_file(f)
    assert conv.id == "c1" and conv.turns == 3 and conv.text == "What is a queue?" and len(conv.messages or ()) == 6
    assert single.turns == 0 and single.messages == ({"role": "user", "content": "Hi"},)
    assert [i for _, i in turn_histories(conv.messages or (), 3)] == [1, 3, 5]
    assert turn_histories(conv.messages or (), 3)[0][0] == [{"role": "system", "content": "You answer briefly."}]
    bad = {
        '{"messages": []}': "field 'messages' must be a non-empty list",
        '{"messages": [{"role": "bot", "content": "x"}]}': "field 'messages[0]' must be",
        '{"messages": [{"role": "user", "content": "x"}], "turns": 2}': "field 'turns' must be true or a whole number from 1 to 1",
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}': "the last message must be from \"user\"",
    }
    for line, msg in bad.items():
        f.write_text(line + "\n")
        with pytest.raises(ConfigError, match=re.escape("line 1: " + msg)):
            P.from_file(f)
    with pytest.raises(ConfigError, match="field 'api': conversations"):
        resolve_prompts(BenchConfig(prompt_set="conversations", api="completions"))


def test_builtin_conversation_set() -> None:
    convs = P.builtin("conversations")
    assert len(convs) >= 3 and all(c.turns >= 3 and c.messages and c.messages[0]["role"] == "system" for c in convs)
    assert "conversations" not in {p.size for p in P.builtin("mixed")}


def test_multi_turn_feeds_back_the_real_answer(server: ServerHandle, tmp_path: Path) -> None:
    f = tmp_path / "conv.jsonl"
    f.write_text(orjson.dumps(CONVERSATION).decode() + "\n")
    dep = sim()
    with Store(tmp_path / "c.db") as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=2, concurrency=2, warmup=0, prompts_file=str(f)), st)
    df = load_requests(tmp_path / "c.db", [run]).sort_values(["conversation_id", "turn_index"])
    assert len(df) == 2 * 3 and (df["status"] == "ok").all() and df["conversation_id"].nunique() == 2
    assert df["pair_id"].nunique() == len(df)  # one pair id per turn: stream / non-stream replays pair turn by turn
    for _, conv in df.groupby("conversation_id"):
        assert list(conv["turn_index"]) == [0, 1, 2]
        sent = [{"role": "system", "content": "You answer briefly."}]
        inputs = []
        for (_, row), user in zip(conv.iterrows(), ("What is a queue?", "Give an example.", "Thanks, summarise.")):
            sent.append({"role": "user", "content": user})
            truth = http_get(f"{server.url}/debug/truth/{row['response_id']}").json()
            assert truth["prompt_digest"] == digest(sent)  # exactly the history with the model's real answers, never the recorded ones
            assert row["input_tokens"] == sum(len(m["content"].split()) for m in sent)  # the simulator counts words
            inputs.append(row["input_tokens"])
            assert row["text"] == "".join(truth["chunk_texts"]) and "RECORDED" not in row["text"]
            sent.append({"role": "assistant", "content": row["text"]})
        assert inputs == sorted(inputs) and inputs[0] < inputs[-1]  # the context grows turn by turn


def test_no_cache_reuse_makes_every_prefix_unique(server: ServerHandle, tmp_path: Path) -> None:
    req = LLMRequest.chat("Hello", system="Be brief.")
    a, b = unique_prefix(req), unique_prefix(req)
    assert a.messages[0]["content"] != b.messages[0]["content"] and a.messages[0]["content"].endswith("] Be brief.")
    assert a.messages[1] == req.messages[1] and unique_prefix(LLMRequest(prompt="x", api="completions")).prompt.endswith("] x")
    dep = sim(tokens=3)
    digests = {}
    with Store(tmp_path / "n.db") as st:
        for reuse in (True, False):
            run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=3, concurrency=1, warmup=0, prompts=["Same prompt"],
                                            cache_reuse=reuse), st)  # fmt: skip
            ids = load_requests(tmp_path / "n.db", [run])["response_id"]
            digests[reuse] = {http_get(f"{server.url}/debug/truth/{rid}").json()["prompt_digest"] for rid in ids}
    assert len(digests[True]) == 1 and len(digests[False]) == 3


def test_metrics_page_charts_ttft_against_context_length(server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from streaming.analysis.context import ttft_vs_input_tokens

    with Store(tmp_path / "m.db") as st:
        run = run_benchmark(BenchConfig(deployments=[sim()], mode="stream", requests=4, concurrency=4, warmup=0, prompt_set="conversations"), st)
    df = load_requests(tmp_path / "m.db", [run])
    fig = ttft_vs_input_tokens(df)
    assert [t.name for t in fig.data] == ["turn 1", "turn 2", "turn 3", "turn 4"] and sum(len(t.x) for t in fig.data) == len(df) == 3 + 3 + 4 + 3
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "m.db"))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "metrics.py"), default_timeout=60).run()
    assert not at.exception and "Conversations" in [h.value for h in at.subheader]
