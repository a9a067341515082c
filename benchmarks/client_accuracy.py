"""How exact is the client's TTFT and ITL? Compared per response id with the built-in server's own truth.

Runs N concurrent streams against a simulated deployment (about 200 ms TTFT, 50 tok/s,
100 tokens) at each concurrency level, then fetches GET /debug/truth/{id} for every
request. Both processes read the same CLOCK_MONOTONIC (time.perf_counter), so:

- arrival error  = client's first-content stamp − server's write of that chunk
- TTFT error     = client TTFT − server TTFT (server TTFT runs from the moment it had
                   the whole request; the client's from just before it sent it)
- ITL error      = per content chunk, client stamp − server write, minus that of the first

    python benchmarks/client_accuracy.py                 # quick: C = 1, 64, 128, 256
    python benchmarks/client_accuracy.py --waves 4       # more requests per level
    python benchmarks/client_accuracy.py --transport wire,httpx --levels 1,64   # both transports, one table
    python benchmarks/client_accuracy.py --api responses --levels 1,64,128
    python benchmarks/client_accuracy.py --scrape --levels 128 --waves 4   # each level twice, without and with the
                                                         # server's /metrics scraped every 1 s (bench.scrape), in one run
    python benchmarks/client_accuracy.py --tls --transport wire,httpx --levels 1,64,256
                                                         # HTTPS, as to a remote endpoint: the server with a
                                                         # self-signed certificate the client trusts (SSL_CERT_FILE)
                                                         # the Responses route on a reasoning model: also the
                                                         # first-reasoning (summary delta) arrival error
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import httpx2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.core.client import AsyncClient  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.server.launcher import free_port, start_server  # noqa: E402

PROFILE = SimProfile(ttft_ms=200, tokens_per_s=50, jitter=0.0, output_tokens=100)
DEP = Deployment(name="sim-accuracy", provider="simulated", model="sim-accuracy", sim=PROFILE)
# --api responses: a reasoning model (100 reasoning tokens at 400/s, summaries streamed), then the same answer
R_PROFILE = SimProfile(ttft_ms=200, tokens_per_s=50, jitter=0.0, output_tokens=100, reasoning_tokens=100, reasoning_tokens_per_s=400)
R_DEP = Deployment(name="sim-accuracy-r", provider="simulated", model="sim-accuracy-r", sim=R_PROFILE, api="responses", reasoning=True)


async def level(url: str, concurrency: int, total: int, dep: Deployment = DEP, transport: str = "wire") -> list:
    max_tokens = 100 + dep.sim.reasoning_tokens if dep.sim else 100
    async with AsyncClient([dep], server_url=url, max_connections=concurrency, retry=RetryPolicy(max_retries=0), transport=transport,
                           timeouts=Timeouts(stall_s=30)) as c:  # fmt: skip
        sem = asyncio.Semaphore(concurrency)
        # Open the pool's connections first, as a steady-state run would have them.
        await asyncio.gather(*(c.run(DEP, LLMRequest.chat("warm", max_tokens=1)) for _ in range(concurrency)))  # any model: the pool is per host

        async def one(i: int):
            async with sem:
                return await c.run(dep, LLMRequest.chat(f"request {i}", max_tokens=max_tokens, seed=i))

        return await asyncio.gather(*(one(i) for i in range(total)))


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a) * 1000, q)) if a else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,64,128,256")
    ap.add_argument("--waves", type=int, default=2, help="requests per level = waves × concurrency (at least 20)")
    ap.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    ap.add_argument("--transport", default="wire", help="wire, httpx, or both as 'wire,httpx' (one row per transport and level)")
    ap.add_argument("--api", choices=("chat", "responses"), default="chat", help="responses: a reasoning model on /v1/responses")
    ap.add_argument("--tls", action="store_true", help="serve and measure over HTTPS (a self-signed certificate, trusted via SSL_CERT_FILE)")
    ap.add_argument("--scrape", action="store_true", help="each level twice: without, then with the server's /metrics scraped (bench.scrape)")
    ap.add_argument("--scrape-interval", type=float, default=1.0, metavar="S", help="with --scrape: seconds between scrapes (default 1)")
    args = ap.parse_args()
    dep = R_DEP if args.api == "responses" else DEP
    tls = None
    if args.tls:
        import tempfile

        from streaming.server.tls import self_signed

        cert, key = self_signed(tempfile.mkdtemp(prefix="accuracy-tls-"))
        os.environ["SSL_CERT_FILE"] = str(cert)
        tls = (str(cert), str(key))
    handle = start_server(port=free_port(), tls=tls)
    try:
        prof = dep.sim
        assert prof is not None
        print(f"server {handle.url}; api {args.api}; profile {prof.ttft_ms:.0f} ms, {prof.reasoning_tokens} reasoning tokens, {prof.tokens_per_s:.0f} tok/s, {prof.output_tokens} tokens")
        print(f"{'scrape':>6} {'transport':>9} {'C':>4} {'n':>5} {'ok':>5} | {'arrival err p50':>15} {'p99':>7} | {'TTFT err p50':>12} {'p99':>7} | {'ITL err p50':>11} {'p99':>7} | {'TTFT p50':>8} {'send→in p50':>11} {'p99':>6} {'wall s':>6}"
              + (f" | {'t_first_reasoning err p50':>25} {'p99':>7}" if args.api == "responses" else ""))  # fmt: skip
        scrapes = (False, True) if args.scrape else (False,)
        store = None
        if args.scrape:
            import tempfile

            from streaming.store import Store

            store = Store(os.path.join(tempfile.mkdtemp(prefix="accuracy-scrape-"), "s.db"))
        for transport, conc, scrape in [(tr, int(x), sc) for x in args.levels.split(",") for tr in args.transport.split(",") for sc in scrapes]:
            total = max(10, args.waves * conc)
            scraper = None
            if scrape:  # as the runner does: its own thread and HTTP client, samples stored as they land
                from streaming.bench.scrape import Scraper, targets_for

                run_id = store.create_run("bench", {"benchmark": "client_accuracy --scrape"})
                scraper = Scraper(store, run_id, targets_for([dep], handle.url), interval_s=args.scrape_interval)
            t = time.perf_counter()
            if scraper is not None:
                scraper.start(origin=t)
            runner = level(handle.url, conc, total, dep, transport)
            try:
                if args.uvloop:
                    import uvloop

                    recs = uvloop.run(runner)
                else:
                    recs = asyncio.run(runner)
            finally:
                if scraper is not None:
                    for w in scraper.stop():
                        print(f"warning: {w}")
            wall = time.perf_counter() - t
            arrival, ttft_err, itl_err, ttfts, transit, reasoning_err = [], [], [], [], [], []
            with httpx2.Client(timeout=30, verify=httpx2.create_ssl_context()) as h:
                for r in recs:
                    if not r.ok:
                        continue
                    tr = h.get(f"{handle.url}/debug/truth/{r.response_id}").json()
                    server_times = tr["chunk_times"]
                    client_abs = [r.t0_monotonic + x for x in r.chunk_times_s]
                    if len(server_times) != len(client_abs):
                        continue
                    a0 = client_abs[0] - server_times[0]
                    arrival.append(a0)
                    ttft_err.append(r.ttft_s - (server_times[0] - tr["received_at"]))
                    ttfts.append(r.ttft_s)
                    transit.append(tr["received_at"] - r.t0_monotonic)
                    itl_err.extend((c - s) - a0 for c, s in zip(client_abs[1:], server_times[1:]))
                    if r.t_first_reasoning_s is not None and tr["reasoning_times"]:
                        reasoning_err.append(r.t0_monotonic + r.t_first_reasoning_s - tr["reasoning_times"][0])
            ok = sum(r.ok for r in recs)
            tag = f"{scraper.stored}s" if scraper is not None else "no"  # with scraping: how many samples were stored
            print(f"{tag:>6} {transport:>9} {conc:>4} {total:>5} {ok:>5} | {pct(arrival, 50):>12.2f} ms {pct(arrival, 99):>7.2f} | {pct(ttft_err, 50):>9.2f} ms {pct(ttft_err, 99):>7.2f} |"
                  f" {pct(itl_err, 50):>8.2f} ms {pct(itl_err, 99):>7.2f} | {pct(ttfts, 50):>5.0f} ms {pct(transit, 50):>8.2f} ms {pct(transit, 99):>6.1f} {wall:>6.1f}"
                  + (f" | {pct(reasoning_err, 50):>22.2f} ms {pct(reasoning_err, 99):>7.2f}" if args.api == "responses" else ""))  # fmt: skip
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
