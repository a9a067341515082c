"""The text exposition parser and the common names of the known servers' families (their public metric names)."""

from __future__ import annotations

import pytest

from streaming.core.prometheus import common_name, parse_exposition

VLLM = """# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 24.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.93
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_bucket{le="0.5",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:request_queue_time_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 10.0
vllm:request_queue_time_seconds_sum{model_name="meta-llama/Llama-3.1-8B-Instruct"} 12.5
vllm:request_queue_time_seconds_count{model_name="meta-llama/Llama-3.1-8B-Instruct"} 10.0
vllm:request_queue_time_seconds_created{model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.7e9
# TYPE vllm:prompt_tokens counter
vllm:prompt_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8128.0
"""


def test_vllm_families_get_common_names_and_the_rest_stays_raw() -> None:
    samples = parse_exposition(VLLM)
    by = {s.name: s for s in samples}
    assert by["vllm:num_requests_waiting"].common == "waiting" and by["vllm:num_requests_waiting"].value == 24.0
    assert by["vllm:num_requests_waiting"].labels == {"model_name": "meta-llama/Llama-3.1-8B-Instruct"}
    assert by["vllm:num_requests_running"].common == "running"
    assert by["vllm:kv_cache_usage_perc"].common == "kv_cache_usage"
    assert by["vllm:request_queue_time_seconds_sum"].common == "queue_time_sum"
    assert by["vllm:request_queue_time_seconds_count"].value == 10.0
    assert {s.labels["le"] for s in samples if s.common == "queue_time_bucket"} == {"0.5", "+Inf"}
    assert by["vllm:prompt_tokens_total"].common is None  # unknown: kept raw
    assert not any(s.name.endswith("_created") for s in samples)


@pytest.mark.parametrize(("name", "common"), [
    ("vllm:gpu_cache_usage_perc", "kv_cache_usage"),  # vLLM before v1
    ("vllm:time_to_first_token_seconds_bucket", "ttft_bucket"),
    ("sglang:num_queue_reqs", "waiting"), ("sglang:num_running_reqs", "running"), ("sglang:token_usage", "kv_cache_usage"),
    ("sglang:queue_time_seconds_sum", "queue_time_sum"), ("sglang:time_to_first_token_seconds_count", "ttft_count"),
    ("tgi_queue_size", "waiting"), ("tgi_batch_current_size", "running"), ("tgi_request_queue_duration_count", "queue_time_count"),
    ("llamacpp:requests_deferred", "waiting"), ("llamacpp:requests_processing", "running"),
    ("llamacpp:kv_cache_usage_ratio", "kv_cache_usage"),
    ("llamacpp:tokens_predicted_total", None), ("vllm:num_requests_waiting_bucket", None),
])  # fmt: skip
def test_each_servers_public_names(name: str, common: str | None) -> None:
    assert common_name(name) == common


def test_untyped_llama_cpp_lines_parse() -> None:
    (s,) = parse_exposition("llamacpp:requests_processing 2\n")
    assert (s.common, s.value, s.labels) == ("running", 2.0, {})


@pytest.mark.parametrize("text", ["<html><body><h1>Welcome</h1></body></html>", '{"waiting": 3}', "hello world"])
def test_what_is_not_the_text_format_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_exposition(text)
