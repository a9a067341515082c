"""``GET /metrics`` on the built-in server: the simulated deployments' queue in Prometheus text, with vLLM's names.

So a run against the simulator shows the same "Server side" as one against vLLM, offline. Per
model (label ``model_name``, as vLLM labels it):

- ``vllm:num_requests_waiting``: requests queued for a capacity slot (``server.capacity``);
- ``vllm:num_requests_running``: slots in use;
- ``vllm:kv_cache_usage_perc``: slots in use / capacity (the simulator has no KV cache: its slots stand for it);
- ``vllm:request_queue_time_seconds``: histogram of the time each request waited for its slot;
- ``vllm:time_to_first_token_seconds``: histogram of the server's TTFT (request in → first content chunk written).

The histograms are filled when a scrape comes (from the responses the server has seen since), so
nothing is added to a request's own path. Only deployments with a ``capacity`` queue and report
waiting/running; every simulated request reports its queue time (0 without a capacity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.responses import Response

from streaming.server.capacity import CapacityPool
from streaming.server.truth import Truth, TruthStore

QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
PENDING_LIMIT_S = 600.0  # a response that never wrote a chunk nor finished (an injected fault) is forgotten after this


class _QueueGauges:
    """A custom collector: the pool's counts read at scrape time."""

    def __init__(self, pool: CapacityPool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting: dict[str, float] = {}
        running: dict[str, float] = {}
        capacity: dict[str, float] = {}
        for key, n in list(self.pool.queued.items()):  # key: "model|profile header"
            waiting[key.split("|", 1)[0]] = waiting.get(key.split("|", 1)[0], 0) + n
        for key, n in list(self.pool.held.items()):
            model = key.split("|", 1)[0]
            running[model] = running.get(model, 0) + n
            capacity[model] = capacity.get(model, 0) + self.pool.capacity.get(key, 0)
        models = sorted(set(waiting) | set(running))
        fams = (
            GaugeMetricFamily("vllm:num_requests_waiting", "Requests waiting for a capacity slot (simulated).", labels=["model_name"]),
            GaugeMetricFamily("vllm:num_requests_running", "Requests holding a capacity slot (simulated).", labels=["model_name"]),
            GaugeMetricFamily("vllm:kv_cache_usage_perc", "Slots in use / capacity (simulated; 1 means all).", labels=["model_name"]),
        )
        for m in models:
            fams[0].add_metric([m], waiting.get(m, 0))
            fams[1].add_metric([m], running.get(m, 0))
            fams[2].add_metric([m], running.get(m, 0) / capacity[m] if capacity.get(m) else 0.0)
        yield from fams


class ServerMetrics:
    """The built-in server's registry: the queue gauges, and the histograms filled from new responses at each scrape."""

    def __init__(self, pool: CapacityPool, truths: TruthStore, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=False)
        self.queue_time = Histogram("vllm:request_queue_time_seconds", "Seconds a request waited for a slot (simulated).",
                                    ["model_name"], buckets=QUEUE_BUCKETS, registry=self.registry)  # fmt: skip
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Server-side time to first token in seconds.",
                              ["model_name"], buckets=TTFT_BUCKETS, registry=self.registry)  # fmt: skip
        self.registry.register(_QueueGauges(pool))
        self.pending: list[Truth] = []
        truths.listeners.append(self._track)

    def _track(self, truth: Truth) -> None:
        self.pending.append(truth)

    def _settle(self) -> None:
        """Observe every pending response that has written its first chunk (or ended); keep the rest for later."""
        now, keep = self.clock(), []
        for t in self.pending:
            first = t.chunk_times[0] if t.chunk_times else None
            ended = t.finished_at is not None or t.cancelled_at is not None
            if first is None and not ended:
                if now - t.received_at < PENDING_LIMIT_S:
                    keep.append(t)
                continue
            if t.queued_s is not None:
                self.queue_time.labels(t.model).observe(t.queued_s)
            if first is not None:
                self.ttft.labels(t.model).observe(first - t.received_at)
        self.pending = keep

    def exposition(self) -> bytes:
        """The Prometheus text of now."""
        self._settle()
        return generate_latest(self.registry)


def add_metrics_route(app: Any, state: Any) -> ServerMetrics:
    """Add ``GET /metrics`` to the server app (``state``: its ``ServerState``)."""
    metrics = ServerMetrics(state.capacity, state.truth, state.clock)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
