"""How late does the client see the first token under each legal SSE framing? Client arrival − server write.

Plays corpus transcripts (tests/core/sse_corpus.py) from the loopback playback server
(tests/core/sse_playback.py: one write per event, 25 ms apart) and runs each through the real
``AsyncClient``. Server and client share one process and one ``perf_counter``, so the error of an
event is the client's stamp (``t0 + ttft_s``, ``t0 + t_first_reasoning_s``) minus the server's clock
reading just before the write that completed it. A framing the parser handles a read late shows
up as about one inter-event gap (25 ms).

    python benchmarks/framing_accuracy.py                      # this checkout
    python benchmarks/framing_accuracy.py --src /tmp/base      # another checkout's streaming/ (e.g. the base commit)
    python benchmarks/framing_accuracy.py --repeats 10 --transport wire,httpx
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ("openai_chat_usage_logprobs", "deepseek_reasoning_content_with_details")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=os.path.dirname(HERE), help="the checkout whose streaming/ package is measured")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--transport", default="wire")
    args = ap.parse_args()
    sys.path[:0] = [os.path.abspath(args.src), os.path.join(os.path.dirname(HERE), "tests", "core")]

    from sse_corpus import BY_NAME  # the corpus and its server come from this checkout, whatever --src says
    from sse_playback import FRAMINGS, GAP_S, PlaybackServer

    from streaming.core.client import AsyncClient
    from streaming.core.config import Deployment
    from streaming.core.request import LLMRequest

    print(f"streaming from {os.path.abspath(args.src)}; gap between events {GAP_S * 1000:.0f} ms; {args.repeats} runs per cell")
    print(f"{'framing':<11} {'transport':<9} {'TTFT err median':>16} {'max':>8} {'1st reasoning err median':>25} {'max':>8}  status")
    with PlaybackServer() as server:
        for transport in args.transport.split(","):
            for framing in FRAMINGS:
                ttft, reason, statuses = [], [], set()
                for i in range(args.repeats):
                    for name in CASES:
                        case = BY_NAME[name]
                        dep = Deployment(name=name, provider="openai", model=case.model, base_url=f"{server.url}/c/{name}/{framing}/b{i}{transport}/v1")

                        async def run(dep: Deployment = dep) -> object:
                            async with AsyncClient([dep], transport=transport) as c:
                                return await c.run(dep, LLMRequest.chat("hello", max_tokens=64))

                        rec = asyncio.run(run())
                        statuses.add(rec.status)
                        sent = server.sent[f"{name}/{framing}/b{i}{transport}"]
                        first_v = next(t for g, t in sent if g == "V")
                        if rec.ttft_s is not None:
                            ttft.append((rec.t0_monotonic + rec.ttft_s - first_v) * 1000)
                        first_r = next((t for g, t in sent if g == "R"), None)
                        if first_r is not None and rec.t_first_reasoning_s is not None:
                            reason.append((rec.t0_monotonic + rec.t_first_reasoning_s - first_r) * 1000)

                def fmt(xs: list[float]) -> tuple[str, str]:
                    return (f"{statistics.median(xs):+.2f} ms", f"{max(xs):+.2f}") if xs else ("n/a", "n/a")

                (tm, tx), (rm, rx) = fmt(ttft), fmt(reason)
                print(f"{framing:<11} {transport:<9} {tm:>16} {tx:>8} {rm:>25} {rx:>8}  {','.join(sorted(statuses))}")


if __name__ == "__main__":
    main()
