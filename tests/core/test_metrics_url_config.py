"""``metrics_url`` in deployments.toml: any provider may name one; "" turns the default off; a bad one is one sentence."""

from __future__ import annotations

import pytest

from streaming.bench.scrape import Target, metrics_url_for, targets_for
from streaming.core.prometheus import Sample
from streaming.core.config import BUILTINS, parse_deployment
from streaming.errors import ConfigError


def test_metrics_url_and_the_defaults() -> None:
    vllm = parse_deployment({"name": "v", "provider": "compatible", "base_url": "http://127.0.0.1:8000/v1", "model": "m"}, "deployments[0]")
    assert vllm.metrics_url is None and metrics_url_for(vllm, None) == ("http://127.0.0.1:8000/metrics", False)  # guessed: dropped if silent
    named = parse_deployment({"name": "n", "provider": "compatible", "base_url": "http://h:1/v1", "model": "m",
                              "metrics_url": "http://h:9/prom"}, "deployments[0]")  # fmt: skip
    assert metrics_url_for(named, None) == ("http://h:9/prom", True)
    off = parse_deployment({"name": "o", "provider": "compatible", "base_url": "http://h:1/v1", "model": "m", "metrics_url": ""}, "d[0]")
    assert metrics_url_for(off, None) is None
    azure = parse_deployment({"name": "a", "provider": "azure", "endpoint": "https://x.openai.azure.com", "deployment": "g"}, "d[0]")
    assert metrics_url_for(azure, None) is None  # Azure's side is its headers
    sims = [d for d in BUILTINS if d.provider == "simulated"][:2]
    (one,) = targets_for(sims, "http://127.0.0.1:8765")  # the built-in server's deployments share its /metrics
    assert one.url == "http://127.0.0.1:8765/metrics" and one.named and set(one.deployments.values()) == {d.name for d in sims}
    mine, other = (Sample("vllm:num_requests_waiting", "waiting", {"model_name": m}, 1.0) for m in (sims[1].model, "someone-else"))
    wide = Sample("process_cpu_seconds_total", None, {}, 3.0)
    assert one.assign([mine, other, wide]) == [(mine, sims[1].name), (wide, None)]  # another model's sample is not this run's
    solo = Target("http://h/metrics", False, {"m": "my-vllm", "my-vllm": "my-vllm"})
    alias = Sample("vllm:num_requests_waiting", "waiting", {"model_name": "served-alias"}, 2.0)
    assert solo.assign([alias]) == [(alias, "my-vllm")]  # no label names the run's model: the server speaks for it whole
    assert solo.assign([Sample("w", None, {"model_name": "m"}, 1.0), alias]) == [(Sample("w", None, {"model_name": "m"}, 1.0), "my-vllm")]


def test_a_bad_metrics_url_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"deployments\[0\] \('v'\).*metrics_url.*http:// or https:// URL"):
        parse_deployment({"name": "v", "provider": "compatible", "base_url": "http://h/v1", "model": "m", "metrics_url": "h:9/metrics"}, "deployments[0]")
