"""The local model's prompt frame and stop strings (no model: the frame's text and the cutting of pieces)."""

from __future__ import annotations

import pytest

from streaming.server.local_frame import FRAME_STOPS, StopMatcher, local_frame, qa_frame
from streaming.server.models import ChatRequest, CompletionRequest, ResponsesRequest

SYSTEM = "You are a helpful assistant. Answer briefly."


def test_the_frame_puts_the_system_prompt_on_top_and_ends_on_an_open_answer() -> None:
    f = qa_frame([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Why stream?"}])
    assert f.prompt.startswith(SYSTEM + "\n\nQuestion: ")
    assert f.prompt.endswith("Question: Why stream?\nAnswer:")
    assert f.prompt.count(SYSTEM) == 1 and f.stop == FRAME_STOPS and f.strip_leading


def test_history_becomes_question_answer_pairs_in_order() -> None:
    f = qa_frame([{"role": "user", "content": "What is TTFT?"}, {"role": "assistant", "content": "The wait for the first token."},
                  {"role": "user", "content": "And p95?"}])  # fmt: skip
    tail = f.prompt.split("Question: What is TTFT?")[1]
    assert tail == "\nAnswer: The wait for the first token.\n\nQuestion: And p95?\nAnswer:"


def test_a_last_assistant_message_is_continued_not_closed() -> None:
    f = qa_frame([{"role": "user", "content": "Tell me"}, {"role": "assistant", "content": "Streaming shows"}])
    assert f.prompt.endswith("Question: Tell me\nAnswer: Streaming shows") and not f.strip_leading


def test_typed_content_parts_and_developer_messages() -> None:
    f = qa_frame([{"role": "developer", "content": "Be short."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    assert f.prompt.startswith("Be short.\n\n") and f.prompt.endswith("Question: Hi\nAnswer:")


def test_each_api_gets_its_frame_and_the_requests_own_stop() -> None:
    chat = ChatRequest(model="local", messages=[{"role": "user", "content": "Q1"}], stop=["END"])
    assert local_frame(chat, "chat").prompt.endswith("Question: Q1\nAnswer:") and local_frame(chat, "chat").stop[-1] == "END"
    resp = ResponsesRequest(model="local", input="Q2", instructions="Answer in one line.")
    got = local_frame(resp, "responses")
    assert got.prompt.startswith("Answer in one line.\n\n") and got.prompt.endswith("Question: Q2\nAnswer:")
    raw = local_frame(CompletionRequest(model="local", prompt="Once upon", stop="\n"), "completions")
    assert (raw.prompt, raw.stop, raw.strip_leading) == ("Once upon", ("\n",), False)  # completions: raw text, no frame


def feed_all(m: StopMatcher, pieces: list[str]) -> str:
    out = "".join(m.feed(p) for p in pieces)
    return out + m.flush()


def test_the_matcher_cuts_at_a_stop_split_across_tokens_and_counts_the_answers_tokens() -> None:
    m = StopMatcher(FRAME_STOPS, strip_leading=True)
    shown = [m.feed(p) for p in [" Streaming", " shows", " text", ".", "\n", "\n", "Question", ":"]]
    assert "".join(shown) == "Streaming shows text."
    assert shown[4] == "" and m.stopped  # the first "\n" was held back, the second made it a stop
    assert m.visible == 4  # the two newline tokens are the stop's, not the answer's
    assert m.feed(" more") == "" and m.flush() == ""


def test_held_back_text_that_is_no_stop_is_released() -> None:
    m = StopMatcher(FRAME_STOPS, strip_leading=True)
    assert m.feed("A") == "A" and m.feed("\n") == "" and m.feed("B") == "\nB"
    assert m.feed("\nQu") == "" and m.flush() == "\nQu" and not m.stopped and m.visible == 4


@pytest.mark.parametrize("pieces", [["\n", "\n", "Hello"], ["  ", "\n\n", " Hello"]], ids=["newlines", "spaces"])
def test_a_stop_before_the_answer_begins_does_not_end_it(pieces: list[str]) -> None:
    m = StopMatcher(FRAME_STOPS, strip_leading=True)
    assert feed_all(m, pieces) == "Hello" and not m.stopped and m.visible == 3


def test_no_stops_passes_everything_through() -> None:
    m = StopMatcher()
    assert feed_all(m, [" a", "\n\n", "b", ""]) == " a\n\nb" and m.visible == 4
