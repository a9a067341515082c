"""What the SSE relay (POST /chat/stream) adds to TTFT and to each inter-token gap, against reading the same deployment directly.

Both paths read one simulated deployment (zero jitter) on the built-in server; the
server stamps each chunk as it writes it (GET /debug/truth, same CLOCK_MONOTONIC as
this process). Per token, the *delivery delay* is (arrival here − server write).

  direct: this process ── core AsyncClient ──► server /v1/chat/completions
  relay:  this process ── POST /chat/stream ──► relay (same server) ── core AsyncClient ──► /v1/chat/completions

Both paths use the same lean transport here (streaming.wire: one write per request, reads stamped on arrival).
Each client alternates direct and relayed requests, so both paths see the same load. Reported per level (p50):
  TTFT added          p50 over(relay) − p50 over(direct), where over = TTFT measured here − the upstream's own
                      TTFT (its first write − its receipt of the request): the simulator's own timer rounding
                      (up to 1 ms per request with millisecond event-loop timers) is in both TTFTs and cancels out
  per-token added     p50 delivery delay(relay) − p50 delivery delay(direct)
  ITL gap added       p50 of (observed gap − server gap), relay minus direct

Quick:  python benchmarks/relay_overhead.py
Full:   python benchmarks/relay_overhead.py --rounds 10 --tokens 100 --concurrency 1 8 32   (add --burst for simultaneous sends)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.core.client import AsyncClient  # noqa: E402
from streaming.core.config import BUILTINS  # noqa: E402
from streaming.core.request import LLMRequest
from streaming.core.sse import SSEDecoder  # noqa: E402
from streaming.core.transport.wire import WirePool  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402


@dataclass
class Sample:
    """One request: when it was sent, and when each content chunk arrived here (perf_counter)."""

    sent: float
    arrivals: list[float]
    response_id: str


@dataclass
class Figures:
    """One path's distributions, in seconds."""

    ttft: list[float]
    delay: list[float]
    gap_excess: list[float]
    request_path: list[float]
    overhead: list[float]  # client TTFT minus the upstream's own TTFT (its first write − its receipt)


async def direct_one(client: AsyncClient, req: LLMRequest) -> Sample:
    async with client.stream("sim-fast", req) as s:
        rec = await s.run()
    assert rec.ok and rec.t0_monotonic is not None and rec.response_id, rec.error
    return Sample(rec.t0_monotonic, [rec.t0_monotonic + t for t in rec.chunk_times_s], rec.response_id)


async def relay_one(wire: WirePool, url: str, body: bytes, headers: dict[str, str]) -> Sample:
    """One relayed request on the same lean transport as the direct path, so both sides stamp alike:
    ``sent`` just before the request's single write, each read as the event loop delivers it."""
    dec = SSEDecoder()
    arrivals: list[float] = []
    rid = ""
    box: list[float] = []
    resp = await wire.send(f"{url}/chat/stream", headers, body, box.append)
    try:
        async for t, data in resp.stamped():
            for e in dec.feed(data):
                if e.event == "meta":
                    rid = orjson.loads(e.data)["response_id"]
                elif e.event == "error":
                    raise RuntimeError(e.data)
                elif e.data.startswith('{"content"'):
                    arrivals.append(t)
    finally:
        await resp.aclose()
    return Sample(box[0], arrivals, rid)


async def truths(http: httpx2.AsyncClient, url: str, samples: list[Sample]) -> list[dict[str, Any]]:
    rs = await asyncio.gather(*(http.get(f"{url}/debug/truth/{s.response_id}") for s in samples))
    return [r.json() for r in rs]


def figures(samples: list[Sample], ts: list[dict[str, Any]]) -> Figures:
    f = Figures([], [], [], [], [])
    for s, t in zip(samples, ts):
        w = t["chunk_times"]
        assert len(w) == len(s.arrivals), (len(w), len(s.arrivals))
        f.ttft.append(s.arrivals[0] - s.sent)
        f.request_path.append(t["received_at"] - s.sent)
        f.overhead.append((s.arrivals[0] - s.sent) - (w[0] - t["received_at"]))
        d = [a - b for a, b in zip(s.arrivals, w)]
        f.delay += d
        f.gap_excess += [b - a for a, b in zip(d, d[1:])]
    return f


async def run_level(url: str, concurrency: int, rounds: int, tokens: int, profile: dict[str, Any], burst: bool) -> tuple[Figures, Figures]:
    """``concurrency`` clients, each alternating direct and relayed requests ``rounds`` times.

    Default: closed-loop clients whose starts are spread over one request's duration, as independent users are.
    ``burst``: every client sends at the same instant, direct phase then relay phase (a worst case for queueing).
    """
    prof = orjson.dumps(profile).decode()
    prompt = "Tell me about streaming."
    req = LLMRequest.chat(prompt, max_tokens=tokens, headers={"x-sim-profile": prof})
    body = orjson.dumps({"deployment": "sim-fast", "messages": [{"role": "user", "content": prompt}], "max_tokens": tokens})
    headers = {"content-type": "application/json", "x-sim-profile": prof, "accept-encoding": "identity"}
    limits = httpx2.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
    duration = profile["ttft_ms"] / 1000 + tokens / profile["tokens_per_s"]
    direct: list[Sample] = []
    relayed: list[Sample] = []
    async with AsyncClient(list(BUILTINS), server_url=url, max_connections=concurrency + 8) as client:
        async with httpx2.AsyncClient(timeout=60, limits=limits) as http:
            wire = WirePool(concurrency + 8, connect_s=10, stall_s=60)
            # warm both paths: connections here, and the relay's own upstream client and pool
            await asyncio.gather(*(direct_one(client, req) for _ in range(concurrency)))
            await asyncio.gather(*(relay_one(wire, url, body, headers) for _ in range(concurrency)))
            if burst:
                for _ in range(rounds):
                    direct += await asyncio.gather(*(direct_one(client, req) for _ in range(concurrency)))
                    relayed += await asyncio.gather(*(relay_one(wire, url, body, headers) for _ in range(concurrency)))
            else:

                async def user(i: int) -> None:
                    await asyncio.sleep(duration * i / concurrency)
                    for k in range(2 * rounds):
                        if (i + k) % 2 == 0:
                            direct.append(await direct_one(client, req))
                        else:
                            relayed.append(await relay_one(wire, url, body, headers))

                await asyncio.gather(*(user(i) for i in range(concurrency)))
            return figures(direct, await truths(http, url, direct)), figures(relayed, await truths(http, url, relayed))


def ms(x: float) -> str:
    return f"{x * 1000:8.3f}"


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an already running built-in server (default: start one on a free port)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--ttft-ms", type=float, default=100.0)
    ap.add_argument("--tokens-per-s", type=float, default=50.0)
    ap.add_argument("--burst", action="store_true", help="all clients send at the same instant (worst-case queueing) instead of staggered")
    args = ap.parse_args()
    handle = None
    url = args.url
    if url is None:
        handle = start_server(port=free_port())
        url = handle.url
    profile = {"ttft_ms": args.ttft_ms, "tokens_per_s": args.tokens_per_s, "jitter": 0.0, "output_tokens": args.tokens}
    mode = "burst (all clients at once)" if args.burst else "staggered closed-loop clients"
    print(f"server {url}; simulated profile {profile}; {mode}; {args.rounds} direct + {args.rounds} relayed requests per client; p50, in ms")
    print(f"{'clients':>7} {'path':>6} {'TTFT':>8} {'req→srv':>8} {'delay/tok':>9} {'gap−srv':>8} | {'TTFT +':>8} {'per-token +':>11} {'ITL gap +':>9}   target: ≤ 1 ms added")
    try:
        for c in args.concurrency:
            d, r = await run_level(url, c, args.rounds, args.tokens, profile, args.burst)
            for name, f in (("direct", d), ("relay", r)):
                line = f"{c:>7} {name:>6} {ms(statistics.median(f.ttft))} {ms(statistics.median(f.request_path))} {ms(statistics.median(f.delay)):>9} {ms(statistics.median(f.gap_excess))}"
                if name == "relay":
                    # TTFT added = the difference in what each path adds on top of the upstream's own TTFT
                    # (the simulator's timer rounding, up to 1 ms per request, is in both TTFTs and cancels here)
                    added_ttft = statistics.median(r.overhead) - statistics.median(d.overhead)
                    added_tok = statistics.median(r.delay) - statistics.median(d.delay)
                    added_gap = statistics.median(r.gap_excess) - statistics.median(d.gap_excess)
                    line += f" | {ms(added_ttft)} {ms(added_tok):>11} {ms(added_gap):>9}   ({len(r.ttft)} requests, {len(r.delay)} tokens per path)"
                print(line, flush=True)
    finally:
        if handle is not None:
            handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
