"""How much later does ``streaming.timed`` (the openai SDK) stamp events than the native client? Against the server's truth.

At each concurrency, N streams through the native ``AsyncClient`` and N through ``AsyncOpenAI`` +
``streaming.timed`` (run one after the other, same profile), then per response id:

- first-token error  = client's stamp of the first visible token − the server's write of it (one CLOCK_MONOTONIC)
- chunk error        = the same for every visible chunk
- t_first_reasoning error (``--api responses``) = the same for the first reasoning summary delta

The SDK parses each event into a pydantic object before handing it over: the "extra" column is SDK − native.
The SDK's first call in a process also builds its models (measured apart, "cold").

    python benchmarks/sdk_overhead.py                       # chat, C = 1 and 32
    python benchmarks/sdk_overhead.py --api responses
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httpx2
import numpy as np
import orjson

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import openai  # noqa: E402

import streaming  # noqa: E402
from streaming.core.client import AsyncClient  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402

PROFILE = SimProfile(ttft_ms=200, tokens_per_s=50, jitter=0.0, output_tokens=100, reasoning_tokens=100, reasoning_tokens_per_s=400)
DEP = Deployment(name="sim-sdk", provider="simulated", model="sim-sdk", sim=PROFILE, reasoning=True, reasoning_effort="medium")


async def native(url: str, api: str, conc: int, total: int) -> list:
    async with AsyncClient([DEP], server_url=url, max_connections=conc, retry=RetryPolicy(max_retries=0), timeouts=Timeouts(stall_s=30)) as c:
        sem = asyncio.Semaphore(conc)
        await asyncio.gather(*(c.run(DEP, LLMRequest.chat("warm", api=api, max_tokens=300)) for _ in range(conc)))

        async def one(i: int):
            async with sem:
                return await c.run(DEP, LLMRequest.chat(f"request {i}", api=api, max_tokens=300, seed=i))

        return await asyncio.gather(*(one(i) for i in range(total)))


async def sdk(url: str, api: str, conc: int, total: int) -> tuple[list, object]:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0,
                                http_client=openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=conc, max_keepalive_connections=conc)))  # fmt: skip
    create = client.responses.create if api == "responses" else client.chat.completions.create

    profile = {"x-sim-profile": orjson.dumps(PROFILE.to_dict()).decode()}  # the native client sends it for a simulated deployment

    def kw(i: int) -> dict:
        msgs = [{"role": "user", "content": f"request {i}"}]
        if api == "responses":
            return dict(model="sim-sdk", input=msgs, max_output_tokens=300, reasoning={"effort": "medium", "summary": "auto"}, stream=True,
                        extra_headers=profile)  # fmt: skip
        return dict(model="sim-sdk", messages=msgs, max_completion_tokens=300, reasoning_effort="medium", stream=True, seed=i, extra_headers=profile)

    async def run(i: int):
        s = streaming.timed(create, **kw(i))
        async for _ in s:
            pass
        return s.record

    cold = await run(-1)
    await asyncio.gather(*(run(-2 - i) for i in range(conc)))
    sem = asyncio.Semaphore(conc)

    async def one(i: int):
        async with sem:
            return await run(i)

    recs = await asyncio.gather(*(one(i) for i in range(total)))
    await client.close()
    return recs, cold


def errors(url: str, recs: list) -> tuple[list[float], list[float], list[float]]:
    first, chunks, reasoning = [], [], []
    with httpx2.Client(timeout=30) as h:
        for r in recs:
            if not r.ok:
                continue
            tr = h.get(f"{url}/debug/truth/{r.response_id}").json()
            st, ct = tr["chunk_times"], [r.t0_monotonic + x for x in r.chunk_times_s]
            if len(st) != len(ct) or not st:
                continue
            first.append(ct[0] - st[0])
            chunks.extend(c - s for c, s in zip(ct, st))
            if r.t_first_reasoning_s is not None and tr["reasoning_times"]:
                reasoning.append(r.t0_monotonic + r.t_first_reasoning_s - tr["reasoning_times"][0])
    return first, chunks, reasoning


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a) * 1000, q)) if a else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="1,32")
    ap.add_argument("--api", choices=("chat", "responses"), default="chat")
    ap.add_argument("--requests", type=int, default=64, help="per level and per client (at least C)")
    args = ap.parse_args()
    handle = start_server(port=free_port())
    try:
        print(f"api {args.api}; {PROFILE.reasoning_tokens} reasoning tokens, {PROFILE.output_tokens} visible at {PROFILE.tokens_per_s:g} tok/s; ms, p50 / p99")
        print(f"{'C':>3} {'n':>4} | {'native first':>14} | {'sdk first':>14} | {'extra first':>14} | {'native chunk':>14} | {'sdk chunk':>14} | {'extra chunk':>14}"
              + (f" | {'native reason':>14} | {'sdk reason':>14}" if args.api == "responses" else ""))  # fmt: skip
        cold_done = False
        for conc in [int(x) for x in args.levels.split(",")]:
            total = max(conc, args.requests)
            n_recs = asyncio.run(native(handle.url, args.api, conc, total))
            s_recs, cold = asyncio.run(sdk(handle.url, args.api, conc, total))
            nf, nc, nr = errors(handle.url, n_recs)
            sf, sc, sr = errors(handle.url, s_recs)
            if not cold_done:
                cf, _, _ = errors(handle.url, [cold])
                print(f"    SDK cold first call (model build): first-token error {pct(cf, 50):.1f} ms")
                cold_done = True

            def two(a: list[float]) -> str:
                return f"{pct(a, 50):6.2f} / {pct(a, 99):6.2f}"

            extra_f = [pct(sf, 50) - pct(nf, 50), pct(sf, 99) - pct(nf, 99)]
            extra_c = [pct(sc, 50) - pct(nc, 50), pct(sc, 99) - pct(nc, 99)]
            print(f"{conc:>3} {total:>4} | {two(nf)} | {two(sf)} | {extra_f[0]:6.2f} / {extra_f[1]:6.2f} | {two(nc)} | {two(sc)} | {extra_c[0]:6.2f} / {extra_c[1]:6.2f}"
                  + (f" | {two(nr)} | {two(sr)}" if args.api == "responses" else ""))  # fmt: skip
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
