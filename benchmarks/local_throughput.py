"""``local`` decode rate through the whole path (server + HTTP + client) vs llama-cpp-python in-process.

Same prompt, same max_tokens, same sampler settings, greedy decoding. The rate is the reader's decode rate,
(tokens − 1) / (t_last_token − TTFT), computed the same way on both sides. Runs
alternate so drift lands on both.

    python benchmarks/local_throughput.py --max-tokens 128 --repeats 5
    STREAMING_LLAMA_EXTRA_BUFTS=0 python benchmarks/local_throughput.py   # with the run-time AMX guard forced on
    PYTHONPATH=/path/to/other/build python benchmarks/local_throughput.py  # another llama-cpp-python build

The first line printed is llama.cpp's system info: which build was measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.core.client import Client  # noqa: E402
from streaming.core.config import BUILTINS  # noqa: E402
from streaming.core.request import LLMRequest
from streaming.server.launcher import free_port, start_server, warm_local  # noqa: E402
from streaming.server.local_model import SAMPLING  # noqa: E402

PROMPT = "The history of computing began"


def direct(llm, max_tokens: int) -> tuple[float, int]:
    stamps: list[float] = []
    for chunk in llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0.0, stream=True, **SAMPLING):
        if chunk["choices"][0]["text"]:
            stamps.append(time.perf_counter())
    n = len(stamps)
    return (n - 1) / (stamps[-1] - stamps[0]), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from streaming.server.local_worker import load_model, system_info

    guard = "forced on" if os.environ.get("STREAMING_LLAMA_EXTRA_BUFTS") == "0" else "on only if AMX is compiled in"
    print(f"llama.cpp: {system_info()}\nrun-time AMX guard (use_extra_bufts = False): {guard}")
    llm = load_model()  # the same loader as the server's worker
    handle = start_server(port=free_port())
    try:
        warm_local(handle.url)
        direct_rates, path_rates = [], []
        with Client(list(BUILTINS), server_url=handle.url) as c:
            req = LLMRequest(prompt=PROMPT, api="completions", max_tokens=args.max_tokens, temperature=0.0)
            c.run("local", req)  # warm the HTTP path too
            direct(llm, 8)
            for i in range(args.repeats):
                rate, n = direct(llm, args.max_tokens)
                direct_rates.append(rate)
                rec = c.run("local", req)
                assert rec.ok, rec.error
                path_rates.append(rec.tokens_per_s)
                print(f"run {i + 1}: direct {rate:6.1f} tok/s ({n} chunks) | through server+client {rec.tokens_per_s:6.1f} tok/s "
                      f"({rec.output_tokens} tokens, TTFT {rec.ttft_s * 1000:.0f} ms)")  # fmt: skip
        d, p = statistics.median(direct_rates), statistics.median(path_rates)
        print(f"\nmedian: direct {d:.1f} tok/s, whole path {p:.1f} tok/s, ratio {p / d * 100:.1f} % (target ≥ 90 %)")
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
