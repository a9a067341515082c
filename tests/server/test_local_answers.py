"""The real local model in its frame, over HTTP with the project's client: short answers that end by themselves and echo nothing."""

from __future__ import annotations

import pytest

from streaming.core.config import BUILTINS, find_deployment
from streaming.core.request import LLMRequest
from streaming.demo.chats import EXAMPLE_PROMPTS
from streaming.server.launcher import warm_local
from streaming.server.local_frame import EXAMPLES, echoes

pytestmark = pytest.mark.model
SYSTEM = "You are a helpful assistant. Answer briefly."  # the Live demo's default
SEED = 7  # llama.cpp's sampler takes the request's seed: the same answers on every run of this test


def test_the_example_prompts_get_short_answers_that_stop_and_echo_nothing(server, client) -> None:
    warm_local(server.url)
    budget = find_deployment(list(BUILTINS), "local").max_tokens_default()
    recs = [client.run("local", LLMRequest.chat(q, system=SYSTEM, temperature=0.7, max_tokens=budget, seed=SEED)) for q in EXAMPLE_PROMPTS]
    for q, rec in zip(EXAMPLE_PROMPTS, recs):
        assert rec.status == "ok", rec.error
        assert rec.text.strip(), q
        assert not echoes(rec.text, q), f"the answer repeats the question {q!r}: {rec.text!r}"
        assert not echoes(rec.text, SYSTEM), f"the answer repeats the system prompt: {rec.text!r}"
        assert not any(echoes(rec.text, a) for _, a in EXAMPLES), f"the answer repeats a worked example: {rec.text!r}"
        assert "Question:" not in rec.text and "Answer:" not in rec.text, rec.text  # the frame never shows
        assert rec.tokens_source == "usage" and rec.input_tokens and rec.input_tokens > 60  # the frame's tokens are input tokens
    stopped = [r for r in recs if r.finish_reason == "stop"]
    assert len(stopped) > len(recs) / 2, [(r.finish_reason, r.output_tokens) for r in recs]
    assert all((r.output_tokens or 0) < 120 for r in stopped), [r.output_tokens for r in stopped]


def test_a_conversation_goes_into_the_frame_and_the_seed_repeats_the_answer(server, client) -> None:
    warm_local(server.url)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EXAMPLE_PROMPTS[1]},
                {"role": "assistant", "content": "It is the wait before the first word of the answer appears."},
                {"role": "user", "content": "Why does a slow one hurt a demo?"}]  # fmt: skip
    runs = [client.run("local", LLMRequest(messages=messages, temperature=0.7, max_tokens=160, seed=SEED)) for _ in range(2)]
    a, b = runs
    assert a.status == b.status == "ok", (a.error, b.error)
    assert a.text == b.text and a.output_tokens == b.output_tokens  # a seed fixes the sampler
    assert not echoes(a.text, SYSTEM) and not echoes(a.text, messages[3]["content"]) and not echoes(a.text, messages[2]["content"])
    single = client.run("local", LLMRequest.chat("Why does a slow one hurt a demo?", system=SYSTEM, temperature=0.7, max_tokens=8, seed=SEED))
    assert a.input_tokens and single.input_tokens and a.input_tokens > single.input_tokens + 20  # the earlier turns were sent to the model


def test_unseeded_requests_sample_anew(server, client) -> None:
    warm_local(server.url)
    client.run("local", LLMRequest(prompt="Once upon a time", api="completions", temperature=1.0, max_tokens=4, seed=3))  # a seed set before
    texts = {client.run("local", LLMRequest(prompt="Once upon a time", api="completions", temperature=1.0, max_tokens=16)).text for _ in range(3)}
    assert len(texts) > 1, texts  # the worker's sampler kept the last seed: every unseeded answer was the same
