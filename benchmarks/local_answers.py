"""Are the built-in model's answers fit for a demo? The four example prompts, N times, seeded and unseeded.

Through the whole path (built-in server on a free loopback port, HTTP, the project's client), with the
demo's default system prompt, at temperature 0.7 and the deployment's default max tokens. One line per
answer (tokens, finish reason, whether it repeats the question or the system prompt, TTFT, tok/s), then
the totals the demo needs: answers under 120 tokens that end with finish_reason "stop" and echo nothing.

    python benchmarks/local_answers.py --repeats 3
    python benchmarks/local_answers.py --deployment local --temperature 0.7 --repeats 5 --show
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.core.client import Client  # noqa: E402
from streaming.core.config import BUILTINS, find_deployment  # noqa: E402
from streaming.core.request import LLMRequest  # noqa: E402
from streaming.demo.chats import EXAMPLE_PROMPTS  # noqa: E402
from streaming.server.launcher import free_port, start_server, warm_local  # noqa: E402
from streaming.server.local_frame import echoes  # noqa: E402

SYSTEM = "You are a helpful assistant. Answer briefly."  # the Live demo's default
SHORT = 120


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deployment", default="local")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each prompt, seeded (seed 1..N) and as many unseeded")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-tokens", type=int, default=None, help="default: the deployment's")
    ap.add_argument("--show", action="store_true", help="print each answer's text")
    args = ap.parse_args()
    dep = find_deployment(list(BUILTINS), args.deployment)
    max_tokens = args.max_tokens or dep.max_tokens_default()
    server = start_server(port=free_port(), log_dir=tempfile.mkdtemp(prefix="local-answers-"))
    rows = []
    try:
        warm_local(server.url)
        with Client(list(BUILTINS), server_url=server.url) as client:
            for seeded in (True, False):
                for r in range(args.repeats):
                    for i, q in enumerate(EXAMPLE_PROMPTS):
                        seed = r + 1 if seeded else None
                        req = LLMRequest.chat(q, system=SYSTEM, temperature=args.temperature, max_tokens=max_tokens, seed=seed)
                        rec = client.run(dep, req)
                        echo = echoes(rec.text, q, SYSTEM)
                        good = rec.ok and rec.finish_reason == "stop" and (rec.output_tokens or 0) < SHORT and not echo
                        rows.append((rec, echo, good))
                        ttft = f"{rec.ttft_s * 1000:.0f} ms" if rec.ttft_s is not None else "n/a"
                        rate = f"{rec.tokens_per_s:.1f}" if rec.tokens_per_s else "n/a"
                        print(f"prompt {i + 1} seed {seed if seed is not None else '-':>2}: {rec.output_tokens or 0:>3} tokens, "
                              f"finish {rec.finish_reason or rec.status}, echo {'yes' if echo else 'no'}, TTFT {ttft}, {rate} tok/s, "
                              f"input {rec.input_tokens} tokens{'' if good else '  <- not demo-fit'}", flush=True)  # fmt: skip
                        if args.show:
                            print("    " + rec.text.replace("\n", "\n    "), flush=True)
    finally:
        server.stop()
    n = len(rows)
    tokens = [r.output_tokens or 0 for r, _, _ in rows]
    rates = [r.tokens_per_s for r, _, _ in rows if r.tokens_per_s]
    ttfts = [r.ttft_s for r, _, _ in rows if r.ttft_s is not None]
    print(f"\n{dep.name}, temperature {args.temperature}, max tokens {max_tokens}, {n} answers "
          f"({args.repeats} seeded + {args.repeats} unseeded per prompt):")  # fmt: skip
    print(f"  finish_reason stop: {sum(r.finish_reason == 'stop' for r, _, _ in rows)}/{n}; under {SHORT} tokens: "
          f"{sum(t < SHORT for t in tokens)}/{n}; echo of the question or system prompt: {sum(e for _, e, _ in rows)}/{n}")  # fmt: skip
    print(f"  demo-fit (all three): {sum(g for _, _, g in rows)}/{n}; tokens median {statistics.median(tokens):.0f}, max {max(tokens)}")
    if rates and ttfts:
        print(f"  TTFT median {statistics.median(ttfts) * 1000:.0f} ms; decode median {statistics.median(rates):.1f} tok/s "
              f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
