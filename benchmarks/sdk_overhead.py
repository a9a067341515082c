"""How much error does ``streaming.timed`` (the openai SDK) add to TTFT? Against the built-in server's truth, same run.

Part 1, TTFT at C=1 (the must-show figure). For every response id the server keeps its truth:
``ttft = first content chunk handed to the socket − last request byte received`` (one CLOCK_MONOTONIC).
A client's TTFT error is its ``ttft_s`` minus that. Measured per call:

- ``sdk``      ``streaming.timed`` as it is: stamped at the SDK's httpx2 transport;
- ``sdk@call`` the same calls timed from the instant ``create()`` was called (how ``timed`` stamped before);
- ``native``   the project's own client (``streaming.Client``, httpx2 with its trace hook), the reference;
- ``extra``    later calls: sdk − native per pair (the two calls follow each other in one process, so
               both see the same load); first calls: the difference of the percentiles.

"first call" rows: the very first request of a fresh process (every other process starts with the
native client, so both first calls are cold: imports done, nothing sent yet); "later calls": from the
third request of a process on.

Part 2, every visible chunk at C = 1 and 32 (``--levels``), SDK vs native, asyncio: the SDK hands
events over after its pydantic parsing, which the transport's read stamps keep out of the record.

    python benchmarks/sdk_overhead.py                          # chat: part 1 (12 fresh processes; 20 later calls), part 2 at C=1,32
    python benchmarks/sdk_overhead.py --api responses --processes 8 --levels 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import httpx2
import numpy as np
import orjson

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from streaming.core.config import Deployment, SimProfile  # noqa: E402

PROFILE = SimProfile(ttft_ms=60, tokens_per_s=200, jitter=0.0, output_tokens=20)
DEP = Deployment(name="sim-sdk", provider="simulated", model="sim-sdk", sim=PROFILE)
HEADERS = {"x-sim-profile": orjson.dumps(PROFILE.to_dict()).decode()}  # the native client sends it for a simulated deployment


def _key() -> str:
    return os.environ.get("STREAMING_SERVER_API_KEY") or "unused"


def _kwargs(api: str, i: int) -> dict:
    msgs = [{"role": "user", "content": f"request {i}"}]
    if api == "responses":
        return dict(model="sim-sdk", input=msgs, max_output_tokens=64, stream=True, extra_headers=HEADERS)
    return dict(model="sim-sdk", messages=msgs, max_tokens=64, stream=True, seed=i, extra_headers=HEADERS)


def child(url: str, api: str, calls: int, native_first: bool) -> None:
    """One fresh process: ``calls`` pairs of (SDK call, native call), interleaved so both see the same load; one JSON line each.
    ``native_first``: the native call leads each pair, so the process's very first request is the native client's."""
    import openai

    import streaming
    from streaming.core.client import Client
    from streaming.core.request import LLMRequest

    client = openai.OpenAI(base_url=f"{url}/v1", api_key=_key(), max_retries=0)
    create = client.responses.create if api == "responses" else client.chat.completions.create
    seq = iter(range(2 * calls))

    def sdk(i: int) -> None:
        s = streaming.timed(create, **_kwargs(api, i))
        t_call = time.perf_counter()
        for _ in s:
            pass
        r = s.record
        print(json.dumps({"kind": "sdk", "i": i, "seq": next(seq), "ok": r.ok, "rid": r.response_id, "ttft": r.ttft_s, "t0": r.t0_monotonic,
                          "ttft_at_call": None if r.ttft_s is None else r.t0_monotonic + r.ttft_s - t_call}), flush=True)  # fmt: skip

    with Client([DEP], server_url=url) as c:

        def native(i: int) -> None:
            n = c.run(DEP, LLMRequest.chat(f"request {i}", api=api, max_tokens=64))
            print(json.dumps({"kind": "native", "i": i, "seq": next(seq), "ok": n.ok, "rid": n.response_id, "ttft": n.ttft_s, "t0": n.t0_monotonic}),
                  flush=True)  # fmt: skip

        for i in range(calls):
            for call in (native, sdk) if native_first else (sdk, native):
                call(i)


def truth_of(h: httpx2.Client, url: str, rid: str) -> dict:
    return h.get(f"{url}/debug/truth/{rid}").json()


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(a) * 1000, q)) if a else float("nan")


def part1(url: str, api: str, processes: int, later: int) -> None:
    err: dict[str, list[float]] = {}
    with httpx2.Client(timeout=30) as h:
        for p in range(processes):
            calls = 1 + (later if p == 0 else 2)
            order = ["--native-first"] if p % 2 else []  # every other process: the native client's call comes first
            out = subprocess.run([sys.executable, __file__, "--child", url, "--api", api, "--calls", str(calls), *order],
                                 capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
            if out.returncode != 0:
                raise SystemExit(f"child process failed:\n{out.stderr[-2000:]}")
            rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
            pair: dict[int, dict[str, float]] = {}
            for r in rows:
                if not r["ok"]:
                    continue
                if r["seq"] == 1:
                    continue  # the process's second request: neither its first nor warm
                when = "first call" if r["seq"] == 0 else "later calls"
                tr = truth_of(h, url, r["rid"])
                e = r["ttft"] - tr["ttft"]
                err.setdefault(f"{r['kind']}|{when}", []).append(e)
                # the two legs of the error: the request's trip in (t0 → the server has it), the first token's trip out
                err.setdefault(f"{r['kind']} in|{when}", []).append(tr["received_at"] - r["t0"])
                err.setdefault(f"{r['kind']} out|{when}", []).append(r["t0"] + r["ttft"] - tr["chunk_times"][0])
                pair.setdefault(r["i"], {})[r["kind"]] = e
                if r["kind"] == "sdk":
                    err.setdefault(f"sdk@call|{when}", []).append(r["ttft_at_call"] - tr["ttft"])
            for i, d in pair.items():
                if i > 0 and "sdk" in d and "native" in d:
                    err.setdefault("extra|later calls", []).append(d["sdk"] - d["native"])
    print(f"Part 1: TTFT error against the server's truth, C=1, api {api}, ms (p50 / p90 / max)")
    print(f"{'calls':<12} {'n sdk/nat':>7} | {'sdk (transport)':>24} | {'sdk@call (before)':>24} | {'native':>24} | {'extra = sdk − native, paired':>29}")
    for when in ("first call", "later calls"):

        def three(key: str) -> str:
            a = err.get(f"{key}|{when}", [])
            return f"{pct(a, 50):6.2f} / {pct(a, 90):6.2f} / {pct(a, 100):6.2f}"

        if when == "first call":  # first calls are in different processes: the difference of the percentiles
            s_, n_ = err.get("sdk|first call", []), err.get("native|first call", [])
            extra = f"{pct(s_, 50) - pct(n_, 50):+6.2f} / {pct(s_, 90) - pct(n_, 90):+6.2f} / {pct(s_, 100) - pct(n_, 100):+6.2f}"
        else:
            extra = three("extra")
        n_sdk, n_nat = len(err.get(f"sdk|{when}", [])), len(err.get(f"native|{when}", []))
        print(f"{when:<12} {n_sdk:>3} {n_nat:>3} | {three('sdk')} | {three('sdk@call')} | {three('native')} | {extra:>29}")
    print("the two legs, p50 / p90 ms: in = t0 → the server has the request (same httpx2 send for both); out = first token written → stamped")
    for when in ("first call", "later calls"):
        legs = " | ".join(f"{k} {pct(err.get(f'{k}|{when}', []), 50):5.2f} / {pct(err.get(f'{k}|{when}', []), 90):5.2f}"
                          for k in ("sdk in", "native in", "sdk out", "native out"))  # fmt: skip
        print(f"{when:<12} | {legs}")


async def _native_async(url: str, api: str, conc: int, total: int) -> list:
    from streaming.core.client import AsyncClient
    from streaming.core.request import LLMRequest, RetryPolicy, Timeouts

    async with AsyncClient([DEP], server_url=url, max_connections=conc, retry=RetryPolicy(max_retries=0), timeouts=Timeouts(stall_s=30)) as c:
        await asyncio.gather(*(c.run(DEP, LLMRequest.chat("warm", api=api, max_tokens=64)) for _ in range(conc)))
        sem = asyncio.Semaphore(conc)

        async def one(i: int):
            async with sem:
                return await c.run(DEP, LLMRequest.chat(f"request {i}", api=api, max_tokens=64, seed=i))

        return await asyncio.gather(*(one(i) for i in range(total)))


async def _sdk_async(url: str, api: str, conc: int, total: int) -> list:
    import openai

    import streaming

    http = openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=conc, max_keepalive_connections=conc))
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=_key(), max_retries=0, http_client=streaming.instrument(http))
    create = client.responses.create if api == "responses" else client.chat.completions.create

    async def run(i: int):
        s = streaming.timed(create, **_kwargs(api, i))
        async for _ in s:
            pass
        return s.record

    await asyncio.gather(*(run(-1 - i) for i in range(conc)))
    sem = asyncio.Semaphore(conc)

    async def one(i: int):
        async with sem:
            return await run(i)

    recs = await asyncio.gather(*(one(i) for i in range(total)))
    await client.close()
    return recs


def chunk_errors(url: str, recs: list) -> tuple[list[float], list[float]]:
    first, chunks = [], []
    with httpx2.Client(timeout=30) as h:
        for r in recs:
            if not r.ok:
                continue
            st = h.get(f"{url}/debug/truth/{r.response_id}").json()["chunk_times"]
            ct = [r.t0_monotonic + x for x in r.chunk_times_s]
            if len(st) != len(ct) or not st:
                continue
            first.append(ct[0] - st[0])
            chunks.extend(c - s for c, s in zip(ct, st))
    return first, chunks


def part2(url: str, api: str, levels: list[int], requests: int) -> None:
    print(f"\nPart 2: each visible chunk's stamp − the server's write of it, asyncio, api {api}, ms (p50 / p99)")
    print(f"{'C':>3} {'n':>4} | {'native first':>15} | {'sdk first':>15} | {'native chunk':>15} | {'sdk chunk':>15}")
    for conc in levels:
        total = max(conc, requests)
        nf, nc = chunk_errors(url, asyncio.run(_native_async(url, api, conc, total)))
        sf, sc = chunk_errors(url, asyncio.run(_sdk_async(url, api, conc, total)))

        def two(a: list[float]) -> str:
            return f"{pct(a, 50):6.2f} / {pct(a, 99):6.2f}"

        print(f"{conc:>3} {total:>4} | {two(nf)} | {two(sf)} | {two(nc)} | {two(sc)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", choices=("chat", "responses"), default="chat")
    ap.add_argument("--processes", type=int, default=12, help="fresh processes, one first call each (part 1)")
    ap.add_argument("--later", type=int, default=20, help="later calls in the first process (the others make 2 each)")
    ap.add_argument("--levels", default="1,32", help="part 2 concurrencies; empty: skip part 2")
    ap.add_argument("--requests", type=int, default=64, help="part 2: per level and per client (at least C)")
    ap.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--calls", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--native-first", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.api, args.calls, args.native_first)
        return
    from streaming.server.launcher import free_port, start_server

    handle = start_server(port=free_port())
    try:
        part1(handle.url, args.api, args.processes, args.later)
        if args.levels:
            part2(handle.url, args.api, [int(x) for x in args.levels.split(",")], args.requests)
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
