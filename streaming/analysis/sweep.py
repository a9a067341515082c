"""A capacity sweep's figures: one ``Step`` per load (a run), the edge under the SLOs, saturation, client limits.

Pure functions of the stored requests: the sweep command builds its ``--json`` from them while it
runs, and the Metrics page and the HTML report rebuild the same figures (and the knee chart) later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from streaming.analysis.capacity import (
    Slo,
    run_saturation,
    throughput_row,
)
from streaming.analysis.estimators import Estimate, bootstrap_quantiles
from streaming.analysis.slo_check import slo_estimate, verdict

LOOP_LAG_LIMIT_MS = 5.0  # the runner's own warning threshold
SATURATION_GAIN = 0.5  # throughput rose by less than half of the load's relative rise: it has stopped rising
SATURATION_LATENCY = 0.05  # ...while mean e2e rose more than this (closed loop: mean e2e = load / throughput)


@dataclass(frozen=True)
class SloResult:
    """One SLO at one step: its estimate with a 95 % CI, whether it holds, and whether the CI agrees."""

    slo: Slo
    estimate: Estimate
    holds: bool
    certain: bool

    def to_dict(self) -> dict[str, Any]:
        e = self.estimate
        return {"slo": self.slo.text, "value": _num(e.value), "ci_low": _num(e.lo), "ci_high": _num(e.hi), "n": e.n,
                "holds": self.holds, "certain": self.certain}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One load of a sweep (one run): its SLO results, latency with CIs, throughput and goodput."""

    load: float
    run_id: str
    n: int
    ok: int
    slos: tuple[SloResult, ...]
    ttft_p95: Estimate
    e2e_p95: Estimate
    e2e_mean: float
    throughput: dict[str, float]
    loop_lag_p99_ms: float | None
    saturated_in_run: bool
    status: str = "finished"

    @property
    def holds(self) -> bool:
        return bool(self.slos) and all(r.holds for r in self.slos) and self.n > 0

    @property
    def certain(self) -> bool:
        """The CI agrees with the verdict: every SLO clearly holds, or some SLO clearly breaks."""
        if self.holds:
            return all(r.certain for r in self.slos)
        return any(not r.holds and r.certain for r in self.slos)

    def to_dict(self, by: str) -> dict[str, Any]:
        return {by: _load(self.load, by), "run_id": self.run_id, "status": self.status, "n": self.n, "ok": self.ok, "holds": self.holds,
                "certain": self.certain, "slos": {r.slo.metric: r.to_dict() for r in self.slos},
                "ttft_p95": _est(self.ttft_p95), "e2e_p95": _est(self.e2e_p95),
                **{k: _num(v) for k, v in self.throughput.items()},
                "loop_lag_p99_ms": _num(self.loop_lag_p99_ms), "saturated_in_run": self.saturated_in_run}  # fmt: skip


def step_from_run(df: pd.DataFrame, load: float, run_id: str, slos: Sequence[Slo], loop_lag_p99_ms: float | None = None,
                  status: str = "finished") -> Step:  # fmt: skip
    """A sweep step from one run's measured requests."""
    results = []
    for s in slos:
        e = slo_estimate(df, s)
        holds, certain = verdict(s, e)
        results.append(SloResult(s, e, holds, certain))
    ok = df[df["status"] == "ok"] if len(df) else df
    ttft, = bootstrap_quantiles(ok["ttft_s"].to_numpy(dtype=float, na_value=math.nan) if len(ok) else [], [0.95])
    e2e = ok["e2e_s"].to_numpy(dtype=float, na_value=math.nan) if len(ok) else np.array([])
    e2e95, = bootstrap_quantiles(e2e, [0.95])
    e2e_mean = float(np.nanmean(e2e)) if np.isfinite(e2e).any() else math.nan
    tp = throughput_row(df, slos) if len(df) else {}
    sat = run_saturation(df).flagged if len(df) else False
    return Step(float(load), run_id, int(len(df)), int(len(ok)), tuple(results), ttft, e2e95, e2e_mean, tp, loop_lag_p99_ms, sat, status)


@dataclass
class SweepResult:
    """The sweep's answer: its steps (sorted by load), the edge under the SLOs and its verdict, saturation, client limits."""

    by: str
    slos: list[Slo]
    steps: list[Step] = field(default_factory=list)
    sweep_id: str = ""
    stopped: bool = False

    @property
    def edge(self) -> Step | None:
        """The highest load whose SLOs hold, below every load that broke them."""
        first_break = min((s.load for s in self.steps if not s.holds), default=math.inf)
        ok = [s for s in self.steps if s.holds and s.load < first_break]
        return max(ok, key=lambda s: s.load) if ok else None

    @property
    def breaking(self) -> Step | None:
        """The lowest load that broke an SLO."""
        bad = [s for s in self.steps if not s.holds]
        return min(bad, key=lambda s: s.load) if bad else None

    @property
    def saturated_at(self) -> float | None:
        """The load after which throughput stopped rising (from it to the next load tried, requests/s rose by less than half
        the load's relative rise) while mean e2e kept rising (> 5 %)."""
        steps = sorted(self.steps, key=lambda s: s.load)
        for a, b in zip(steps, steps[1:]):
            ta, tb = a.throughput.get("requests_per_s", math.nan), b.throughput.get("requests_per_s", math.nan)
            if any(math.isnan(x) for x in (ta, tb, a.e2e_mean, b.e2e_mean)):
                continue
            if ta > 0 and tb / ta - 1 < SATURATION_GAIN * (b.load / a.load - 1) and b.e2e_mean > a.e2e_mean * (1 + SATURATION_LATENCY):
                return a.load
        return None

    @property
    def client_limited(self) -> bool:
        """The client's own event loop lagged (p99 > 5 ms) at the edge or at the load that broke the SLO, and the
        server had not saturated by then (throughput still rising): the client, not the server, set the limit."""
        brk = self.breaking
        sat = self.saturated_at
        if sat is not None and (brk is None or sat < brk.load):
            return False
        return any(s is not None and s.loop_lag_p99_ms is not None and s.loop_lag_p99_ms > LOOP_LAG_LIMIT_MS
                   for s in (self.edge, self.breaking))  # fmt: skip

    @property
    def verdict(self) -> dict[str, Any]:
        """Whether the edge is certain: the CIs at the edge and at the next load tested both agree with the verdicts."""
        edge, brk = self.edge, self.breaking
        unit = "concurrent streams" if self.by == "concurrency" else "requests/s"
        if edge is None:
            text = "the SLO broke at the lowest load tried" if brk else "no step finished"
            return {"certain": brk is not None and brk.certain, "sentence": text}
        if brk is None:
            return {"certain": False, "sentence": f"the SLO held at every load tried (up to {_fmt(edge.load)} {unit}); the edge is above the maximum"}
        unsure = [f"{_fmt(s.load)} ({', '.join(f'{r.slo.metric} {_fmt(r.estimate.value)} [{_fmt(r.estimate.lo)}–{_fmt(r.estimate.hi)}]' for r in s.slos if not r.certain)})"
                  for s in (edge, brk) if not s.certain]  # fmt: skip
        if not unsure:
            return {"certain": True, "sentence": f"holds at {_fmt(edge.load)} {unit}, breaks at {_fmt(brk.load)}: both outside the 95 % CIs"}
        return {"certain": False, "sentence": f"uncertain edge: the 95 % CI straddles the limit at {'; '.join(unsure)}; "
                                              "more requests per step would settle it"}  # fmt: skip

    def headline(self) -> str:
        """The capacity card: "holds N concurrent streams at TTFT p95 ≤ 0.5 s (95 % CI …)"."""
        edge = self.edge
        unit = "concurrent streams" if self.by == "concurrency" else "requests/s"
        conds = " and ".join(_slo_words(r.slo) for r in (edge.slos if edge else ()))
        if edge is None:
            return f"holds no load tried within {', '.join(s.text for s in self.slos)}"
        cis = "; ".join(f"{r.slo.metric} {_fmt(r.estimate.value)} (95 % CI {_fmt(r.estimate.lo)}–{_fmt(r.estimate.hi)})" for r in edge.slos)
        sure = "" if self.verdict["certain"] else " — edge uncertain"
        return f"holds {_fmt(edge.load)} {unit} at {conds}: {cis}{sure}"

    def to_dict(self) -> dict[str, Any]:
        key = "max_concurrency_within_slo" if self.by == "concurrency" else "max_rate_within_slo"
        edge = self.edge
        return {"sweep_id": self.sweep_id, "by": self.by, "slos": [s.text for s in self.slos], "stopped": self.stopped,
                "steps": [s.to_dict(self.by) for s in sorted(self.steps, key=lambda s: s.load)],
                key: _load(edge.load, self.by) if edge else None, "edge": self.verdict, "saturated_at": None if self.saturated_at is None else _load(self.saturated_at, self.by),
                "client_limited": self.client_limited, "headline": self.headline()}  # fmt: skip


def _slo_words(s: Slo) -> str:
    op = {"<=": "≤", ">=": "≥"}.get(s.op, s.op)
    name = s.metric.replace("_p", " p").replace("ttft", "TTFT").replace("e2e", "e2e")
    unit = " s" if s.column in ("ttft_s", "e2e_s", "tpot_s", "perceived_wait_s") else ""
    return f"{name} {op} {s.value:g}{unit}"


def _load(v: float, by: str) -> float | int:
    return int(v) if by == "concurrency" else v


def _fmt(v: float) -> str:
    return "nan" if v is None or math.isnan(v) else f"{v:.3g}"


def _num(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _est(e: Estimate) -> dict[str, Any]:
    return {"value": _num(e.value), "ci_low": _num(e.lo), "ci_high": _num(e.hi), "n": e.n}


def sweep_from_runs(df: pd.DataFrame, runs: pd.DataFrame, configs: dict[str, dict[str, Any]]) -> SweepResult:
    """A stored sweep rebuilt: ``df`` its requests, ``runs`` its rows of ``list_runs``, ``configs`` each run's stored config."""
    from streaming.analysis.capacity import parse_slos

    first = next(iter(configs.values()), {})
    by = "rate" if first.get("rate") is not None else "concurrency"
    res = SweepResult(by, parse_slos(first.get("slos") or []), sweep_id=str(first.get("sweep_id") or ""))
    for _, r in runs.iterrows():
        if r["status"] == "stopped":  # cut short by Ctrl-C: as in the sweep's own answer, not a step
            res.stopped = True
            continue
        cfg = configs.get(r["run_id"], {})
        g = df[df["run_id"] == r["run_id"]]
        lag = r.get("loop_lag_p99_ms")
        res.steps.append(step_from_run(g, float(cfg.get("sweep_load") or 0), r["run_id"], res.slos,
                                       None if lag is None or pd.isna(lag) else float(lag), str(r["status"])))  # fmt: skip
    return res
