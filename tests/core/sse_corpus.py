"""Conformance corpus: stream transcripts of real providers' shapes, written from their public API documentation.

Each ``Case`` is a list of events as the provider sends them, each tagged by hand: ``V`` the first
visible output may be here (content, refusal, or a tool-call delta of a tool-only answer), ``R`` reasoning
text, ``-`` anything else. The expected text, finish reason, token counts and status are written by hand
from the transcript; the parser never produced them. ``NO_SPLIT`` and ``TOKENIZER`` mark counts the test computes
itself with the o200k_base tokenizer (the documented count when usage has no reasoning split, or no usage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

V, R, O = "V", "R", "-"
NO_SPLIT = object()  # visible = o200k count of the text; reasoning = completion_tokens - visible
TOKENIZER = object()  # no usage: visible = o200k count of the text (the model's own tokenizer, for OpenAI/Azure models)
DONE = "[DONE]"


@dataclass(frozen=True)
class Case:
    """One provider stream and what the client must make of it."""

    name: str
    provider: str  # the deployment's provider: openai | azure | compatible
    api: str  # chat | responses | completions
    model: str
    events: list[tuple[str, str | None, Any]]  # (tag, SSE event name or None, payload: dict → JSON, str as is)
    text: str
    finish_reason: str | None
    output_tokens: Any  # int, NO_SPLIT, or None
    reasoning_tokens: Any = None
    completion_tokens: int | None = None  # for NO_SPLIT: usage's completion_tokens
    tokens_source: str = "usage"
    status: str = "ok"
    refusal: bool = False
    finish_reason_raw: str | None = None
    warnings: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, cid: str = "chatcmpl-9x1", **kw: Any) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if delta is not None:
        choice["delta"] = delta
    choice.update(kw.pop("choice", {}))
    return {"id": cid, "object": "chat.completion.chunk", "created": 1764662400, "model": kw.pop("model", "gpt-4o-2024-08-06"),
            "choices": [choice], **kw}  # fmt: skip


def usage_chunk(prompt: int, completion: int, total: int | None = None, **details: Any) -> dict[str, Any]:
    u: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total if total is not None else prompt + completion}
    u.update(details)
    return {"id": "chatcmpl-9x1", "object": "chat.completion.chunk", "created": 1764662400, "model": "gpt-4o-2024-08-06", "choices": [], "usage": u}


def resp(etype: str, seq: int, **kw: Any) -> tuple[str, dict[str, Any]]:
    return etype, {"type": etype, "sequence_number": seq, **kw}


def response_obj(status: str, usage: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {"id": "resp_68e1", "object": "response", "created_at": 1764662400, "status": status, "model": kw.pop("model", "gpt-5-mini"),
            "error": None, "incomplete_details": None, "output": [], "usage": usage, **kw}  # fmt: skip


CFR = {"hate": {"filtered": False, "severity": "safe"}, "self_harm": {"filtered": False, "severity": "safe"},
       "sexual": {"filtered": False, "severity": "safe"}, "violence": {"filtered": False, "severity": "safe"}}  # fmt: skip
LOGPROBS = {"content": [{"token": "x", "logprob": -0.01, "bytes": [120], "top_logprobs": []}], "refusal": None}


def _responses_text(parts: list[str], seq: int) -> list[tuple[str, str | None, Any]]:
    out: list[tuple[str, str | None, Any]] = [
        (O, *resp("response.output_item.added", seq, output_index=1, item={"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"})),
        (O, *resp("response.content_part.added", seq + 1, item_id="msg_1", output_index=1, content_index=0, part={"type": "output_text", "annotations": [], "text": ""})),
    ]  # fmt: skip
    for i, p in enumerate(parts):
        out.append((V, *resp("response.output_text.delta", seq + 2 + i, item_id="msg_1", output_index=1, content_index=0, delta=p, logprobs=[])))
    out.append((O, *resp("response.output_text.done", seq + 2 + len(parts), item_id="msg_1", output_index=1, content_index=0, text="".join(parts))))
    return out


CASES: list[Case] = [
    Case("openai_chat_usage_logprobs", "openai", "chat", "gpt-4o", [
        (O, None, chunk({"role": "assistant", "content": "", "refusal": None}, logprobs=None)),
        (V, None, chunk({"content": "Bonjour, "}, choice={"logprobs": LOGPROBS})),
        (V, None, chunk({"content": "ça va"}, choice={"logprobs": LOGPROBS})),
        (V, None, chunk({"content": " très bien !"}, choice={"logprobs": LOGPROBS})),
        (O, None, chunk({}, "stop")),
        (O, None, usage_chunk(11, 7, completion_tokens_details={"reasoning_tokens": 0, "accepted_prediction_tokens": 0},
                              prompt_tokens_details={"cached_tokens": 0})),
        (O, None, DONE),
    ], "Bonjour, ça va très bien !", "stop", 7, 0),  # fmt: skip
    Case("openai_chat_tool_calls", "openai", "chat", "gpt-4o", [
        (V, None, chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": "call_Ab1", "type": "function",
                                                                           "function": {"name": "get_weather", "arguments": ""}}]})),
        (V, None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})),
        (V, None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"Zürich\"}"}}]})),
        (O, None, chunk({}, "tool_calls")),
        (O, None, usage_chunk(60, 17)),
        (O, None, DONE),
    ], "", "tool_calls", 17, None, extra={"tool_calls": 1}),  # fmt: skip
    Case("openai_chat_refusal", "openai", "chat", "gpt-4o", [
        (O, None, chunk({"role": "assistant", "content": None, "refusal": ""})),
        (V, None, chunk({"refusal": "I’m sorry, "})),
        (V, None, chunk({"refusal": "I can’t help with that."})),
        (O, None, chunk({}, "stop")),
        (O, None, usage_chunk(30, 10)),
        (O, None, DONE),
    ], "I’m sorry, I can’t help with that.", "stop", 10, None, refusal=True),  # fmt: skip
    Case("azure_chat_filters_and_annotations", "azure", "chat", "gpt-4o", [
        (O, None, {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                   "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": CFR}]}),
        (O, None, chunk({"role": "assistant", "content": ""}, choice={"content_filter_results": {}})),
        (V, None, chunk({"content": "Grüße"}, choice={"content_filter_results": CFR})),
        (V, None, chunk({"content": " aus Köln"}, choice={"content_filter_results": CFR})),
        (O, None, chunk({}, "stop", choice={"content_filter_results": {}})),
        (O, None, {"choices": [{"index": 0, "finish_reason": None, "content_filter_results": CFR,
                                "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 15}}],
                   "created": 0, "id": "", "model": "", "object": ""}),
        (O, None, usage_chunk(14, 5)),
        (O, None, DONE),
    ], "Grüße aus Köln", "stop", 5, None),  # fmt: skip
    Case("azure_chat_content_filter", "azure", "chat", "gpt-4o", [
        (O, None, {"choices": [], "id": "", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": CFR}]}),
        (V, None, chunk({"role": "assistant", "content": "Voilà le début…"})),
        (O, None, chunk({}, "content_filter", choice={"content_filter_results": {**CFR, "violence": {"filtered": True, "severity": "high"}}})),
        (O, None, DONE),
    ], "Voilà le début…", "content_filter", TOKENIZER, None, tokens_source="bpe-openai:o200k_base", status="filtered"),  # fmt: skip
    Case("openai_responses_reasoning_summary", "openai", "responses", "gpt-5-mini", [
        (O, *resp("response.created", 0, response=response_obj("in_progress"))),
        (O, *resp("response.in_progress", 1, response=response_obj("in_progress"))),
        (O, *resp("response.output_item.added", 2, output_index=0, item={"id": "rs_1", "type": "reasoning", "summary": []})),
        (O, *resp("response.reasoning_summary_part.added", 3, item_id="rs_1", output_index=0, summary_index=0, part={"type": "summary_text", "text": ""})),
        (R, *resp("response.reasoning_summary_text.delta", 4, item_id="rs_1", output_index=0, summary_index=0, delta="**Pesée** des options")),
        (R, *resp("response.reasoning_summary_text.delta", 5, item_id="rs_1", output_index=0, summary_index=0, delta=" — la plus simple")),
        (O, *resp("response.reasoning_summary_text.done", 6, item_id="rs_1", output_index=0, summary_index=0, text="…")),
        (O, *resp("response.reasoning_summary_part.done", 7, item_id="rs_1", output_index=0, summary_index=0, part={"type": "summary_text", "text": "…"})),
        *_responses_text(["Réponse", " : 42"], 8),
        (O, *resp("response.completed", 13, response=response_obj("completed", {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 0},
              "output_tokens": 70, "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 90}))),
    ], "Réponse : 42", "stop", 6, 64),  # fmt: skip
    Case("azure_responses_refusal", "azure", "responses", "gpt-4.1", [
        (O, *resp("response.created", 0, response=response_obj("in_progress"))),
        (O, *resp("response.output_item.added", 1, output_index=0, item={"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"})),
        (O, *resp("response.content_part.added", 2, item_id="msg_1", output_index=0, content_index=0, part={"type": "refusal", "refusal": ""})),
        (V, *resp("response.refusal.delta", 3, item_id="msg_1", output_index=0, content_index=0, delta="Désolé, ")),
        (V, *resp("response.refusal.delta", 4, item_id="msg_1", output_index=0, content_index=0, delta="je ne peux pas.")),
        (O, *resp("response.refusal.done", 5, item_id="msg_1", output_index=0, content_index=0, refusal="Désolé, je ne peux pas.")),
        (O, *resp("response.completed", 6, response=response_obj("completed", {"input_tokens": 25, "output_tokens": 8, "total_tokens": 33,
              "output_tokens_details": {"reasoning_tokens": 0}}))),
    ], "Désolé, je ne peux pas.", "stop", 8, 0, refusal=True),  # fmt: skip
    Case("openai_responses_incomplete_max_output_tokens", "openai", "responses", "gpt-4.1", [
        (O, *resp("response.created", 0, response=response_obj("in_progress"))),
        *_responses_text(["Il était", " une fois…"], 1),
        (O, *resp("response.incomplete", 6, response=response_obj("incomplete", {"input_tokens": 9, "output_tokens": 6, "total_tokens": 15},
              incomplete_details={"reason": "max_output_tokens"}))),
    ], "Il était une fois…", "length", 6, None, finish_reason_raw="max_output_tokens"),  # fmt: skip
    Case("xai_responses_incomplete_reason_max_len", "compatible", "responses", "grok-4", [
        (O, *resp("response.created", 0, response=response_obj("in_progress", model="grok-4"))),
        *_responses_text(["Très", " long…"], 1),
        (O, *resp("response.incomplete", 6, response=response_obj("incomplete", {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13},
              incomplete_details={"reason": "REASON_MAX_LEN"}, model="grok-4"))),
    ], "Très long…", "length", 4, None, finish_reason_raw="REASON_MAX_LEN"),  # fmt: skip
    Case("openai_responses_failed", "openai", "responses", "gpt-4.1", [
        (O, *resp("response.created", 0, response=response_obj("in_progress"))),
        *_responses_text(["Début", " – coupé"], 1),
        (O, *resp("response.failed", 6, response=response_obj("failed", error={"code": "server_error", "message": "The model crashed."}))),
    ], "Début – coupé", None, TOKENIZER, None, tokens_source="bpe-openai:o200k_base", status="error"),  # fmt: skip
    Case("deepseek_reasoning_content_with_details", "compatible", "chat", "deepseek-reasoner", [
        (O, None, chunk({"role": "assistant", "content": None, "reasoning_content": ""}, model="deepseek-reasoner")),
        (R, None, chunk({"content": None, "reasoning_content": "L’utilisateur demande"}, model="deepseek-reasoner")),
        (R, None, chunk({"content": None, "reasoning_content": " 2+2."}, model="deepseek-reasoner")),
        (V, None, chunk({"content": "2 + 2 = 4 ✓", "reasoning_content": None}, model="deepseek-reasoner")),
        (O, None, chunk({"content": ""}, "stop", model="deepseek-reasoner",
                        usage={"prompt_tokens": 8, "completion_tokens": 30, "total_tokens": 38,
                               "completion_tokens_details": {"reasoning_tokens": 22}, "prompt_cache_hit_tokens": 0})),
        (O, None, DONE),
    ], "2 + 2 = 4 ✓", "stop", 8, 22),  # fmt: skip
    Case("vllm_reasoning_content_no_split", "compatible", "chat", "Qwen/Qwen3-8B", [
        (O, None, chunk({"role": "assistant", "content": ""}, model="Qwen/Qwen3-8B")),
        (R, None, chunk({"reasoning_content": "Hmm, the user"}, model="Qwen/Qwen3-8B")),
        (R, None, chunk({"reasoning_content": " wants a greeting in Spanish; ¡hola!"}, model="Qwen/Qwen3-8B")),
        (V, None, chunk({"content": "¡Hola"}, model="Qwen/Qwen3-8B")),
        (V, None, chunk({"content": ", mundo!"}, model="Qwen/Qwen3-8B")),
        (O, None, chunk({"content": ""}, "stop", model="Qwen/Qwen3-8B", choice={"stop_reason": None})),
        (O, None, usage_chunk(12, 40)),
        (O, None, DONE),
    ], "¡Hola, mundo!", "stop", NO_SPLIT, NO_SPLIT, completion_tokens=40, tokens_source="bpe-openai:o200k_base estimate (usage had no reasoning split)"),  # fmt: skip
    Case("llamacpp_reasoning_content_timings", "compatible", "chat", "gpt-oss-20b", [
        (R, None, chunk({"reasoning_content": "Need a haiku about the café"}, model="gpt-oss-20b")),
        (V, None, chunk({"content": "Café au matin"}, model="gpt-oss-20b")),
        (V, None, chunk({"content": " — vapeur douce"}, model="gpt-oss-20b")),
        (O, None, chunk({}, "stop", model="gpt-oss-20b", usage={"completion_tokens": 35, "prompt_tokens": 20, "total_tokens": 55},
                        timings={"prompt_n": 20, "prompt_ms": 30.1, "predicted_n": 35, "predicted_ms": 400.2})),
        (O, None, DONE),
    ], "Café au matin — vapeur douce", "stop", NO_SPLIT, NO_SPLIT, completion_tokens=35, tokens_source="bpe-openai:o200k_base estimate (usage had no reasoning split)"),  # fmt: skip
    Case("groq_reasoning_field", "compatible", "chat", "openai/gpt-oss-120b", [
        (O, None, chunk({"role": "assistant", "content": ""}, model="openai/gpt-oss-120b", x_groq={"id": "req_01"})),
        (R, None, chunk({"reasoning": "Simple math: 3×3"}, model="openai/gpt-oss-120b")),
        (V, None, chunk({"content": "3 × 3 = 9"}, model="openai/gpt-oss-120b")),
        (O, None, chunk({}, "stop", model="openai/gpt-oss-120b",
                        x_groq={"id": "req_01", "usage": {"prompt_tokens": 70, "completion_tokens": 25, "total_tokens": 95}})),
        (O, None, usage_chunk(70, 25)),
        (O, None, DONE),
    ], "3 × 3 = 9", "stop", NO_SPLIT, NO_SPLIT, completion_tokens=25, tokens_source="bpe-openai:o200k_base estimate (usage had no reasoning split)"),  # fmt: skip
    Case("mistral_typed_content_parts", "compatible", "chat", "magistral-medium-2509", [
        (O, None, chunk({"role": "assistant", "content": ""}, model="magistral-medium-2509")),
        (R, None, chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Je réfléchis"}]}]}, model="magistral-medium-2509")),
        (V, None, chunk({"content": [{"type": "text", "text": "La réponse"}]}, model="magistral-medium-2509")),
        (V, None, chunk({"content": [{"type": "text", "text": " est 7."}]}, model="magistral-medium-2509")),
        (O, None, chunk({"content": ""}, "stop", model="magistral-medium-2509", usage={"prompt_tokens": 15, "total_tokens": 45, "completion_tokens": 30})),
        (O, None, DONE),
    ], "La réponse est 7.", "stop", NO_SPLIT, NO_SPLIT, completion_tokens=30, tokens_source="bpe-openai:o200k_base estimate (usage had no reasoning split)"),  # fmt: skip
    Case("xai_reasoning_outside_completion", "compatible", "chat", "grok-3-mini", [
        (O, None, chunk({"role": "assistant", "content": ""}, model="grok-3-mini")),
        (R, None, chunk({"reasoning_content": "Let me think… 101 is prime"}, model="grok-3-mini")),
        (V, None, chunk({"content": "Oui, 101 est premier."}, model="grok-3-mini")),
        (O, None, chunk({}, "stop", model="grok-3-mini")),
        (O, None, {**usage_chunk(14, 6, 220, completion_tokens_details={"reasoning_tokens": 200, "audio_tokens": 0},
                                 prompt_tokens_details={"cached_tokens": 6}), "model": "grok-3-mini"}),
        (O, None, DONE),
    ], "Oui, 101 est premier.", "stop", 6, 200, tokens_source="usage (reasoning outside completion_tokens)"),  # fmt: skip
    Case("azure_foundry_reasoning_tokens_zero", "azure", "chat", "DeepSeek-R1", [
        (O, None, {"choices": [], "id": "", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": CFR}]}),
        (R, None, chunk({"role": "assistant", "reasoning_content": "Okay, résumé demandé"}, model="DeepSeek-R1")),
        (V, None, chunk({"content": "Résumé : tout va bien."}, model="DeepSeek-R1")),
        (O, None, chunk({}, "stop", model="DeepSeek-R1")),
        (O, None, {**usage_chunk(10, 48), "usage": {"prompt_tokens": 10, "completion_tokens": 48, "total_tokens": 58, "reasoning_tokens": 0}}),
        (O, None, DONE),
    ], "Résumé : tout va bien.", "stop", NO_SPLIT, NO_SPLIT, completion_tokens=48, tokens_source="bpe-openai:o200k_base (usage had no reasoning split)"),  # fmt: skip
    Case("openai_legacy_completions", "openai", "completions", "gpt-3.5-turbo-instruct", [
        (V, None, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "gpt-3.5-turbo-instruct",
                   "choices": [{"text": "Éléphant", "index": 0, "logprobs": None, "finish_reason": None}]}),
        (V, None, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "gpt-3.5-turbo-instruct",
                   "choices": [{"text": " rose", "index": 0, "logprobs": None, "finish_reason": "length"}]}),
        (O, None, {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "gpt-3.5-turbo-instruct", "choices": [],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
        (O, None, DONE),
    ], "Éléphant rose", "length", 4, None),  # fmt: skip
    Case("proxy_error_null_and_done_without_finish", "compatible", "chat", "some-model", [
        (O, None, {**chunk({"role": "assistant"}), "error": None}),
        (V, None, {**chunk({"content": "Ça"}), "error": None}),
        (V, None, {**chunk({"content": " marche"}), "error": None}),
        (O, None, DONE),
    ], "Ça marche", None, 2, None, tokens_source="chunks", warnings=1),  # fmt: skip
]

BY_NAME = {c.name: c for c in CASES}
