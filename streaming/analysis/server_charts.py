"""The server's side of a run: its queue, KV cache and queue time on the client's time axis, TTFT split, rate limits.

Time axis: the run's clock, seconds since its first measured send (a request's ``sent_s``, a
scraped sample's ``t_s``), so the client's TTFT and the server's counts line up.

- waiting / running / KV-cache use: the scraped gauges (``core.prometheus`` names), summed over label sets
  (KV-cache use: their mean);
- server queue time over the run: each scrape interval's mean, Δ``queue_time_sum`` / Δ``queue_time_count``;
- TTFT split, per request where the server reports its queue time (``x-queue-time-ms``):
  queue = that header, the rest = TTFT − queue; the sentence uses means, so the two parts add up;
- rate limits: ``x-ratelimit-remaining-requests`` / ``-tokens`` of each response against its send time, and
  every 429 (a final answer, or a retried attempt at its own start);
- an arena lane's line (``lane_lines``): the peaks of the gauges over the race's scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from streaming.core.prometheus import GAUGES

WARNING_PREFIX = "server metrics:"
QUEUE_HEADER = "x-queue-time-ms"
REMAINING = ("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens")
CAPTION = ("The servers' own metrics, scraped during the run (Prometheus, e.g. vLLM, SGLang, TGI, llama.cpp, the built-in "
           "server), on the run's clock: seconds since its first send. The top panel is the client's TTFT of each request at its send.")  # fmt: skip


def _json(v: Any) -> Any:
    if isinstance(v, (bytes, str)) and v:
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return None
    return v if isinstance(v, (dict, list)) else None


def server_series(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, deployment, scrape): t_s, waiting, running, kv_cache_usage, queue_time_s (that interval's mean)."""
    cols = ["run_id", "deployment", "t_s", *GAUGES, "queue_time_s"]
    if samples.empty:
        return pd.DataFrame(columns=cols)
    s = samples.assign(deployment=samples["deployment"].fillna("(server)"))
    keys = ["run_id", "deployment", "t_s"]
    summed = s[s["common"].isin(["waiting", "running", "queue_time_sum", "queue_time_count"])].pivot_table(
        index=keys, columns="common", values="value", aggfunc="sum")  # fmt: skip
    kv = s[s["common"] == "kv_cache_usage"].pivot_table(index=keys, columns="common", values="value", aggfunc="mean")
    out = pd.concat([summed, kv], axis=1).sort_index().reset_index()
    for c in (*GAUGES, "queue_time_sum", "queue_time_count"):
        if c not in out.columns:
            out[c] = float("nan")
    g = out.groupby(["run_id", "deployment"], sort=False)
    d_sum, d_count = g["queue_time_sum"].diff(), g["queue_time_count"].diff()
    out["queue_time_s"] = (d_sum / d_count).where(d_count > 0)
    return out[cols]


def lane_lines(samples: pd.DataFrame) -> dict[str, str]:
    """Per deployment whose server reports its queue gauges, one line of their peaks during a short run (an arena race),
    e.g. "server, 6 scrapes: peak 2 waiting, 1 running, KV cache 100 %"."""
    out: dict[str, str] = {}
    series = server_series(samples[samples["deployment"].notna()])
    for dep, g in series.groupby("deployment", sort=True):
        peaks = [f"{g[c].max():.0f} {c}" for c in ("waiting", "running") if g[c].notna().any()]
        if g["kv_cache_usage"].notna().any():
            peaks.append(f"KV cache {g['kv_cache_usage'].max() * 100:.0f} %")
        if peaks:
            out[str(dep)] = f"server, {len(g)} scrape{'s' if len(g) != 1 else ''}: peak {', '.join(peaks)}"
    return out


def ttft_split(requests: pd.DataFrame) -> pd.DataFrame:
    """Per streamed request whose server reported its queue time: run_id, deployment, sent_s, ttft_s, queue_s, rest_s."""
    cols = ["run_id", "deployment", "sent_s", "ttft_s", "queue_s", "rest_s"]
    if requests.empty or "ratelimit" not in requests.columns:
        return pd.DataFrame(columns=cols)
    headers = [_json(v) or {} for v in requests["ratelimit"]]
    queue = pd.Series([float(h[QUEUE_HEADER]) / 1000 if QUEUE_HEADER in h else float("nan") for h in headers], index=requests.index)
    d = requests.assign(queue_s=queue)
    d = d[d["ttft_s"].notna() & d["queue_s"].notna()]
    d = d.assign(rest_s=d["ttft_s"] - d["queue_s"], sent_s=d["sent_s"] if "sent_s" in d.columns else float("nan"))
    return d[cols].reset_index(drop=True)


@dataclass(frozen=True)
class SplitSummary:
    """One deployment's TTFT split: mean TTFT, mean server queue, the rest, at how many streams."""

    deployment: str
    n: int
    ttft_s: float
    queue_s: float
    streams: int | None

    @property
    def rest_s(self) -> float:
        return self.ttft_s - self.queue_s

    def sentence(self) -> str:
        """"Of a 1.9 s TTFT at 64 streams, 1.6 s (84 %) was queueing in the server." (means over ``n`` requests)."""
        at = f" at {self.streams} streams" if self.streams else ""
        share = f" ({self.queue_s / self.ttft_s:.0%})" if self.ttft_s > 0 else ""
        return (f"{self.deployment}: of a {_s(self.ttft_s)} TTFT{at}, {_s(self.queue_s)}{share} was queueing in the server "
                f"and {_s(self.rest_s)} the rest (means over {self.n} requests that reported their queue time).")  # fmt: skip


def _s(v: float) -> str:
    return f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.1f} s"


def split_summaries(split: pd.DataFrame, streams: dict[str, int | None] | None = None) -> list[SplitSummary]:
    """One summary per deployment of ``ttft_split``'s rows; ``streams``: each deployment's concurrency, if a closed loop."""
    out = []
    for dep, g in split.groupby("deployment", sort=True):
        out.append(SplitSummary(str(dep), len(g), float(g["ttft_s"].mean()), float(g["queue_s"].mean()), (streams or {}).get(str(dep))))
    return out


def server_figure(series: pd.DataFrame, requests: pd.DataFrame, split: pd.DataFrame | None = None) -> go.Figure:
    """Four panels on one time axis: client TTFT; waiting and running; KV-cache use; server queue time."""
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=("client TTFT (s)", "server: waiting and running requests", "server: KV-cache use (%)",
                                        "server: queue time (s)"))  # fmt: skip
    ok = requests[requests["ttft_s"].notna()] if "ttft_s" in requests.columns else requests.iloc[0:0]
    for dep, g in ok.groupby("deployment", sort=True):
        fig.add_trace(go.Scatter(x=g["sent_s"], y=g["ttft_s"], mode="markers", name=f"{dep} TTFT", marker=dict(size=4),
                                 hovertemplate="sent %{x:.2f} s<br>TTFT %{y:.3f} s<extra></extra>"), row=1, col=1)  # fmt: skip
    for (run, dep), g in series.groupby(["run_id", "deployment"], sort=True):
        tag = dep if series["run_id"].nunique() == 1 else f"{dep} · {run}"
        for col, dash in (("waiting", "solid"), ("running", "dot")):
            if g[col].notna().any():
                fig.add_trace(go.Scatter(x=g["t_s"], y=g[col], mode="lines", line=dict(dash=dash, shape="hv"), name=f"{tag} {col}"), row=2, col=1)
        if g["kv_cache_usage"].notna().any():
            fig.add_trace(go.Scatter(x=g["t_s"], y=g["kv_cache_usage"] * 100, mode="lines", name=f"{tag} KV cache"), row=3, col=1)
        if g["queue_time_s"].notna().any():
            fig.add_trace(go.Scatter(x=g["t_s"], y=g["queue_time_s"], mode="lines+markers", line=dict(shape="hv"), connectgaps=True,
                                     name=f"{tag} queue time (interval mean)"), row=4, col=1)  # fmt: skip
    if split is not None and len(split):
        fig.add_trace(go.Scatter(x=split["sent_s"], y=split["queue_s"], mode="markers", marker=dict(size=4, symbol="x"),
                                 name="queue time per request (x-queue-time-ms)"), row=4, col=1)  # fmt: skip
    fig.update_xaxes(title_text="seconds since the run's first send", row=4, col=1)
    fig.update_layout(height=760, title="Server side over the run", margin=dict(l=50, r=20, t=70, b=40), legend=dict(font=dict(size=10)))
    return fig


def split_figure(split: pd.DataFrame) -> go.Figure:
    """Each request's TTFT as two stacked parts, server queue and the rest, in send order."""
    d = split.sort_values("sent_s").reset_index(drop=True)
    fig = go.Figure([go.Bar(x=d.index, y=d["queue_s"], name="server queue", marker_color="#d62728"),
                     go.Bar(x=d.index, y=d["rest_s"], name="the rest (prefill, first token, network)", marker_color="#1f77b4")])  # fmt: skip
    fig.update_layout(barmode="stack", title="TTFT split per request: server queue + the rest", xaxis_title="request (in send order)",
                      yaxis_title="seconds", height=380, margin=dict(l=50, r=20, t=50, b=40))  # fmt: skip
    return fig


def ratelimit_frame(requests: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(remaining: deployment, sent_s, header, value) and (429s: deployment, t_s, what) of the requests."""
    remaining, limited = [], []
    if requests.empty or "ratelimit" not in requests.columns:
        return pd.DataFrame(columns=["deployment", "sent_s", "header", "value"]), pd.DataFrame(columns=["deployment", "t_s", "what"])
    for r in requests.itertuples(index=False):
        sent = getattr(r, "sent_s", None)
        sent = 0.0 if sent is None or pd.isna(sent) else float(sent)
        h = _json(r.ratelimit) or {}
        for name in REMAINING:
            if name in h:
                try:
                    remaining.append((r.deployment, sent, name.removeprefix("x-ratelimit-"), float(h[name])))
                except ValueError:
                    pass
        for a in _json(getattr(r, "attempts", None)) or []:
            if isinstance(a, dict) and a.get("http_status") == 429:
                limited.append((r.deployment, sent + float(a.get("started_s") or 0.0), "429, retried"))
        status = getattr(r, "http_status", None)
        if status is not None and not pd.isna(status) and int(status) == 429:  # NA: no HTTP answer (a failed connection)
            limited.append((r.deployment, sent, "429, failed"))
    return (pd.DataFrame(remaining, columns=["deployment", "sent_s", "header", "value"]),
            pd.DataFrame(limited, columns=["deployment", "t_s", "what"]))  # fmt: skip


def ratelimit_figure(remaining: pd.DataFrame, limited: pd.DataFrame) -> go.Figure:
    """Remaining requests and tokens over the run (two y axes), the 429s as red marks on the time axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for (dep, header), g in remaining.groupby(["deployment", "header"], sort=True):
        fig.add_trace(go.Scatter(x=g["sent_s"], y=g["value"], mode="lines+markers", marker=dict(size=4), name=f"{dep} {header}"),
                      secondary_y=header.endswith("tokens"))  # fmt: skip
    if len(limited):
        fig.add_trace(go.Scatter(x=limited["t_s"], y=[0] * len(limited), mode="markers", name="HTTP 429",
                                 marker=dict(symbol="x", size=10, color="#d62728"), text=limited["what"],
                                 hovertemplate="%{text} at %{x:.2f} s<extra></extra>"))  # fmt: skip
    fig.update_layout(title="Rate limits over the run: remaining requests and tokens, and the 429s", height=380,
                      margin=dict(l=50, r=50, t=50, b=40), xaxis_title="seconds since the run's first send")  # fmt: skip
    fig.update_yaxes(title_text="remaining requests", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="remaining tokens", secondary_y=True, rangemode="tozero")
    return fig


@dataclass
class ServerSide:
    """What the Metrics page and the report show under "Server side"."""

    sentences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    figures: dict[str, go.Figure] = field(default_factory=dict)

    @property
    def shown(self) -> bool:
        return bool(self.sentences or self.warnings or self.figures)


def server_side(samples: pd.DataFrame, requests: pd.DataFrame, configs: dict[str, dict[str, Any]] | None = None,
                warnings: Sequence[str] = ()) -> ServerSide:  # fmt: skip
    """The "Server side" of these ``requests`` (rows as ``store.load_requests`` gives them), given their runs' scraped
    ``samples`` (``store.samples.load_samples``), run configs (for the streams) and run warnings."""
    out = ServerSide(warnings=[w for w in warnings if w.startswith(WARNING_PREFIX)])
    deps = set(requests["deployment"].astype(str)) if "deployment" in requests.columns else set()
    samples = samples[samples["deployment"].isna() | samples["deployment"].isin(deps)]
    series = server_series(samples)
    split = ttft_split(requests)
    if len(series):
        out.figures["server_side"] = server_figure(series, requests, split)
    if len(split):
        streams = {}
        for run, cfg in (configs or {}).items():  # a closed loop's streams; rate mode has none
            if cfg.get("rate") is None and cfg.get("concurrency"):
                for dep in requests.loc[requests["run_id"] == run, "deployment"].astype(str).unique():
                    streams[dep] = int(cfg["concurrency"])
        out.sentences = [s.sentence() for s in split_summaries(split, streams)]
        out.figures["ttft_split"] = split_figure(split)
    remaining, limited = ratelimit_frame(requests)
    if len(remaining) or len(limited):
        out.figures["rate_limits"] = ratelimit_figure(remaining, limited)
    return out
