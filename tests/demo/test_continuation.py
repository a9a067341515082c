"""Continue's text: never what the answer above already shows, whether the model goes on, starts over or repeats its last words."""

from __future__ import annotations

import pytest

from streaming.demo.continuation import Dedup, continuation_of, join_parts

SHOWN = "Streaming sends each token to the reader"


def streamed(shown: str, pieces: list[str]) -> tuple[str, list[str]]:
    """What the page paints for each delta, and the whole."""
    d = Dedup(shown)
    out = [d.push(p) for p in pieces] + [d.flush()]
    return "".join(out), out


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([" as", " soon", " as"], " as soon as"),  # a genuine continuation passes at once
        (["Streaming", " sends", " each", " token", " to", " the", " reader", " as", " soon"], "as soon"),  # starts over
        (["Streaming", " sends", " each", " word", " now"], "word now"),  # starts over, then goes another way
        (["the", " reader", " as", " soon"], "as soon"),  # repeats the last words first
        (["Streaming", " is", " good"], "Streaming is good"),  # one common first word is chance, not a repeat
        (["Streaming", " sends"], ""),  # it said nothing but the beginning again
        (["reader", " as"], "reader as"),  # one common word at the seam is kept
    ],
    ids=["continues", "restarts", "restarts-diverges", "overlap", "same-first-word", "only-repeat", "one-word-seam"],
)
def test_the_display_never_repeats_the_answer_above(pieces: list[str], expected: str) -> None:
    whole, _ = streamed(SHOWN, pieces)
    assert whole == expected
    assert Dedup.whole(SHOWN, "".join(pieces)) == expected  # the final text is what the stream painted


def test_text_is_held_only_while_it_could_still_be_a_repeat() -> None:
    _, painted = streamed(SHOWN, [" as", " soon"])
    assert painted[0] == " as"  # a continuation shows from its first delta
    _, painted = streamed(SHOWN, ["Streaming", " sends", " each", " token", " to", " the", " reader", " as"])
    assert painted[:7] == [""] * 7 and painted[7] == "as"  # a start-over shows nothing until it goes past the answer
    assert streamed("x y x y", ["x", " y", " x", " y", " z"])[0] == "z"  # the longest repeat wins
    assert streamed("x y x y", ["x", " y", " z"])[0] == "z"
    assert streamed("", ["hello", " world"])[0] == "hello world"  # nothing shown: nothing to hold


def test_continue_reasks_the_question_with_every_part_so_far() -> None:
    history = [
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "Why stream?"},
        {"role": "assistant", "content": "Streaming sends"},
        {"role": "assistant", "content": "each token"},
    ]
    asked, shown = continuation_of(history)
    assert asked == history[:3] and shown == "Streaming sends each token"
    assert join_parts(["a ", "b"]) == "a b" and join_parts(["a", " b"]) == "a b" and join_parts(["", "b"]) == "b"
