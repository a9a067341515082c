"""Prometheus text exposition → samples, with the known LLM servers' families mapped to common names.

Parsing is ``prometheus_client``'s own parser. The mapping is from each server's public metric names
(vLLM, SGLang, TGI, llama.cpp's server); a family not in it is kept raw (``common`` is None).
A histogram's samples keep their suffix in the common name: ``queue_time_bucket``, ``queue_time_sum``,
``queue_time_count``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

# common name → the families that mean it, per server
FAMILIES: dict[str, tuple[str, ...]] = {
    "waiting": ("vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size", "llamacpp:requests_deferred"),
    "running": ("vllm:num_requests_running", "sglang:num_running_reqs", "tgi_batch_current_size", "llamacpp:requests_processing"),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage", "llamacpp:kv_cache_usage_ratio"),
    "queue_time": ("vllm:request_queue_time_seconds", "sglang:queue_time_seconds", "tgi_request_queue_duration"),
    "ttft": ("vllm:time_to_first_token_seconds", "sglang:time_to_first_token_seconds"),
}
COMMON: dict[str, str] = {family: common for common, names in FAMILIES.items() for family in names}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
GAUGES = ("waiting", "running", "kv_cache_usage")
HISTOGRAMS = ("queue_time", "ttft")


@dataclass(frozen=True)
class Sample:
    """One sample of one scrape."""

    name: str
    common: str | None
    labels: dict[str, str]
    value: float


def common_name(sample_name: str) -> str | None:
    """``waiting`` for ``vllm:num_requests_waiting``, ``queue_time_sum`` for ``tgi_request_queue_duration_sum``; None if unknown."""
    if sample_name in COMMON:
        return COMMON[sample_name]
    for suffix in HISTOGRAM_SUFFIXES:
        if sample_name.endswith(suffix) and COMMON.get(base := sample_name[: -len(suffix)]) in HISTOGRAMS:
            return COMMON[base] + suffix
    return None


def parse_exposition(text: str) -> list[Sample]:
    """Every sample in ``text``; ValueError (with the parser's reason) when it is not the Prometheus text format."""
    out: list[Sample] = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith("_created"):  # creation timestamps: not a measurement
                continue
            out.append(Sample(s.name, common_name(s.name), dict(s.labels), float(s.value)))
    return out
