"""Every fault kind N times against the benchmark runner: injected, detected, classified correctly, records kept.

    python benchmarks/fault_matrix.py                 # quick: 5 requests per kind, OpenAI route
    python benchmarks/fault_matrix.py -n 50 --route both

Each kind gets its own simulated deployment whose profile injects the fault on every request
(``faults = [{kind = ..., every = 1}]``, the deployments.toml mechanism). The runner sends the
requests (closed loop, concurrency 4, 1 retry); the server's own log of what it injected
(``GET /debug/truths``) is compared with what the client recorded, and the database is read back.

    injected    requests the server answered with the fault (a retried request counts once per attempt)
    detected    records that show the fault (a failed status, or a recorded retry of it; for
                azure_annotations: the prompt-filter chunk kept and the whole answer read)
    classified  records whose (status, error_type) is exactly the expected pair
    kept        records in the database for the run (lost = requests - kept)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx2
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.bench.runner import run_benchmark  # noqa: E402
from streaming.core.config import (  # noqa: E402
    FAULT_KINDS,
    Deployment,
    Fault,
    SimProfile,
)
from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import Store, load_requests  # noqa: E402

TOKENS = 12
STALL_S = 0.3
# kind -> (fault settings, expected status, expected error_type, retried before the first byte?)
EXPECTED: dict[str, tuple[dict[str, float], str, str | None, bool]] = {
    "429": ({"seconds": 0.02}, "error", "http_429", True),
    "500": ({}, "error", "http_500", True),
    "503": ({}, "error", "http_503", True),
    "reset": ({}, "error", "connection_reset", True),
    "drop": ({"after_tokens": 3}, "interrupted", "connection_dropped", False),
    "stall": ({"after_tokens": 2, "seconds": 1.0}, "stalled", "stall_timeout", False),
    "slow_headers": ({"seconds": 1.0}, "error", "header_timeout", True),
    "malformed": ({"after_tokens": 2}, "protocol_error", "malformed_chunk", False),
    "azure_annotations": ({"after_tokens": 2}, "ok", None, False),
    "content_filter": ({"after_tokens": 3}, "filtered", "content_filter", False),
    "error_event": ({"after_tokens": 2}, "error", "stream_error", False),
}


def run_kind(kind: str, n: int, route: str, server_url: str, db_path: str) -> dict[str, object]:
    settings, status, etype, retried = EXPECTED[kind]
    name = f"sim-fm-{kind}-{uuid.uuid4().hex[:6]}"
    sim = SimProfile(ttft_ms=10, tokens_per_s=1000, output_tokens=TOKENS, faults=(Fault(kind=kind, every=1, **settings),))  # type: ignore[arg-type]
    if route == "azure":
        # the Azure route reads the profile (with its faults) from the server's deployments file
        dep = Deployment(name=f"az-{name}", provider="azure", endpoint=server_url, deployment=name, api_version="2024-10-21",
                         api_key_env="FAULT_MATRIX_FAKE_KEY", model=name)  # fmt: skip
    else:
        dep = Deployment(name=name, provider="simulated", model=name, sim=sim)
    cfg = BenchConfig(deployments=[dep], mode="stream", requests=n, concurrency=4, warmup=0, max_tokens=64, stall_s=STALL_S,
                      max_retries=1, retry_base_s=0.01, retry_max_wait_s=0.5, timeout_s=30)  # fmt: skip
    if route == "azure":
        cfg.headers = {"x-sim-profile": orjson.dumps(sim.to_dict()).decode()}
    with Store(db_path) as st:
        run_id = run_benchmark(cfg, st)
    df = load_requests(db_path, [run_id], timelines=False)
    truths = httpx2.get(f"{server_url}/debug/truths", params={"model": dep.deployment if route == "azure" else name}, timeout=10).json()["responses"]
    injected = sum(1 for t in truths if t["fault"] == kind)
    detected = classified = 0
    for r in df.itertuples():
        attempts = orjson.loads(r.attempts or "[]")
        if kind == "azure_annotations":
            cf = orjson.loads(r.content_filter or "[]")
            seen = bool(cf) and "prompt" in cf[0] and r.output_tokens == TOKENS
        else:
            seen = r.status != "ok" or any(a.get("error_type") == etype for a in attempts)
        detected += seen
        retries_ok = (int(r.retries) == 1) if retried else (int(r.retries) == 0)
        classified += (r.status == status and (r.error_type if isinstance(r.error_type, str) else None) == etype and retries_ok)
    return {"kind": kind, "requests": n, "injected": injected, "detected": detected, "classified": classified, "kept": len(df), "lost": n - len(df)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5, help="requests per fault kind (default 5)")
    ap.add_argument("--route", choices=("openai", "azure", "both"), default="openai")
    ap.add_argument("--kinds", default=",".join(FAULT_KINDS))
    ap.add_argument("--db", help="results database (default: a temporary file)")
    args = ap.parse_args()
    db_path = args.db or str(Path(tempfile.mkdtemp(prefix="fault-matrix-")) / "faults.db")
    os.environ.setdefault("FAULT_MATRIX_FAKE_KEY", "not-a-real-key")
    server = start_server(port=free_port(), log_dir=str(Path(db_path).parent))  # this checkout's server, not one left running
    os.environ["STREAMING_SERVER_URL"] = server.url  # the runner reuses it
    server_url = server.url
    routes = ["openai", "azure"] if args.route == "both" else [args.route]
    rows = []
    t0 = time.perf_counter()
    for route in routes:
        for kind in args.kinds.split(","):
            row = run_kind(kind, args.n, route, server_url, db_path)
            row["route"] = route
            rows.append(row)
    cols = ["route", "kind", "requests", "injected", "detected", "classified", "kept", "lost"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    total = sum(int(r["requests"]) for r in rows)  # type: ignore[call-overload]
    cls = sum(int(r["classified"]) for r in rows)  # type: ignore[call-overload]
    lost = sum(int(r["lost"]) for r in rows)  # type: ignore[call-overload]
    server.stop()
    print(f"\n{cls}/{total} classified correctly ({100 * cls / total:.1f} %), {lost} records lost; {time.perf_counter() - t0:.1f} s; database {db_path}")
    return 0 if cls == total and lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
