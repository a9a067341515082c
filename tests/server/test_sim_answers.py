"""Simulated answers: whole coherent sentences picked from the prompt, ending with finish_reason stop."""

from __future__ import annotations

import re

from streaming.core.client import Client
from streaming.core.request import LLMRequest
from streaming.server.sim import ANSWERS, CLOSERS, answer_words, pick_topic

SENTENCES = {s for a in ANSWERS.values() for s in a} | set(CLOSERS.values())


def sentences(text: str) -> list[str]:
    return re.findall(r"[^.]+\.", text)


def test_the_topic_comes_from_the_prompt_deterministically() -> None:
    assert pick_topic("What is time to first token latency?") == "latency"
    assert pick_topic("How does Azure cloud capacity work?") == "cloud"
    assert pick_topic("What does the temperature of a language model do?") == "ai"
    assert pick_topic("Why stream tokens?") == "streaming"
    assert pick_topic("zzz qqq") == pick_topic("zzz qqq")  # no keyword: a stable hash, not a random pick
    for n in (1, 2, 7, 20, 80, 400):
        words = answer_words("What is latency?", n)
        assert len(words) == n and words[-1].endswith(".")
        assert all(s.strip() in SENTENCES for s in sentences(" ".join(words)))


def test_served_answers_are_whole_sentences_and_stop(client: Client) -> None:
    a = client.run("sim-fast", LLMRequest.chat("What is latency, and why does TTFT matter?", max_tokens=500, seed=1))
    b = client.run("sim-fast", LLMRequest.chat("What is latency, and why does TTFT matter?", max_tokens=500, seed=2))
    assert a.ok and a.finish_reason == "stop" and a.text.endswith(".")
    assert a.text == b.text  # the same prompt, the same answer (timings may differ)
    assert a.text.startswith(ANSWERS["latency"][0])
    assert all(s.strip() in SENTENCES for s in sentences(a.text))
    c = client.run("sim-fast", LLMRequest.chat("Tell me about cloud regions on Azure", max_tokens=500))
    assert c.text.startswith(ANSWERS["cloud"][0]) and c.finish_reason == "stop"


def test_max_tokens_cuts_with_length(client: Client) -> None:
    r = client.run("sim-fast", LLMRequest.chat("Why stream tokens?", max_tokens=5))
    assert r.finish_reason == "length" and r.output_tokens == 5
    assert r.text == " ".join(ANSWERS["streaming"][0].split()[:5])


def test_every_api_picks_the_answer_from_the_prompt_the_same_way(client: Client) -> None:
    from streaming.server.models import ChatRequest, CompletionRequest, ResponsesRequest
    from streaming.server.sim import sim_prompt

    q = "Tell me about cloud regions on Azure"
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why stream tokens?"}, {"role": "assistant", "content": "So."}, {"role": "user", "content": q}]
    parts = [{"role": "user", "content": [{"type": "input_text", "text": q}]}]
    assert sim_prompt(ChatRequest(messages=msgs), "chat") == q
    assert sim_prompt(ResponsesRequest(input=msgs), "responses") == q
    assert sim_prompt(ResponsesRequest(input=q), "responses") == q
    assert sim_prompt(ResponsesRequest(input=parts), "responses") == q
    assert sim_prompt(CompletionRequest(prompt=q), "completions") == q
    for prompt, topic in (("Tell me about cloud regions on Azure", "cloud"), ("What is latency, and why does TTFT matter?", "latency")):
        texts = {api: client.run("sim-fast", LLMRequest.chat(prompt, api=api, max_tokens=500)).text for api in ("chat", "responses")}
        assert texts["chat"] == texts["responses"], texts
        assert texts["responses"].startswith(ANSWERS[topic][0])


def test_a_continue_goes_on_from_the_next_word_on_both_apis(client: Client) -> None:
    """Asked to continue (the answer so far, then the instruction), the simulator goes on where the text stopped."""
    from streaming.core.record import StreamRecord
    from streaming.core.request import resume_request

    whole = answer_words("Why stream tokens?", 120)
    for api in ("chat", "responses"):
        first = StreamRecord("sim-fast", "simulated", "sim-fast", status="cancelled", text=" ".join(whole[:7]), response_id="chatcmpl-x")
        rec = client.run("sim-fast", resume_request(LLMRequest(messages=[{"role": "user", "content": "Why stream tokens?"}], api=api, max_tokens=500), first))
        assert rec.ok and rec.finish_reason == "stop", rec.error
        assert rec.text.split() == whole[7:] and rec.text.startswith(" ")  # the rest of the same answer, after a space
        assert (first.text + rec.text).split() == whole
