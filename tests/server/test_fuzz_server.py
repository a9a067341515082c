"""Fuzz the built-in server from its OpenAPI schema (hypothesis): never a 500, and every 4xx names the field.

Bodies are drawn from the schema of each route (``GET /openapi.json``; the relay's body from
``RelayRequest``), then often broken on purpose: a required field dropped, a field given the
wrong type or an out-of-range value, unknown fields, bad query and path values, bad
``x-sim-*`` headers, bodies that are not JSON. Runs on its own server for a bounded number
of examples (``FUZZ_EXAMPLES``), so its log holds only these requests: it must hold no traceback.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from conftest import http_client, http_get
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.server.launcher import free_port, start_server
from streaming.server.relay import RelayRequest

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FAST = orjson.dumps({"ttft_ms": 0, "tokens_per_s": 5000, "output_tokens": 3}).decode()
LOCAL = {"local", "gemma-3-270m"}  # the real model: loading it is not what this test is about
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./{}[]\"':,\\é中🌍\x00\x1f", max_size=30)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), TEXT)
ANY_JSON = st.recursive(JSON_LEAF, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(TEXT, c, max_size=3)), max_leaves=8)


def from_schema(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for values valid under a (FastAPI-generated) JSON schema; unknown shapes give any JSON."""
    if "$ref" in schema:
        return from_schema(root["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]], root, depth)
    if "anyOf" in schema:
        return st.one_of(*(from_schema(s, root, depth) for s in schema["anyOf"]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    t = schema.get("type")
    if t == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if t == "integer":
        return st.integers(int(schema.get("minimum", -(2**40))), int(schema.get("maximum", 2**40)))
    if t == "number":
        return st.floats(schema.get("minimum", -1e9), schema.get("maximum", 1e9), allow_nan=False)
    if t == "boolean":
        return st.booleans()
    if t == "null":
        return st.none()
    if t == "array":
        return st.lists(from_schema(schema.get("items", {}), root, depth + 1), min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 3), 3))
    if t == "object" and depth < 4:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {k: from_schema(v, root, depth + 1) for k, v in props.items() if k in required}
        optional = {k: from_schema(v, root, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return ANY_JSON


@st.composite
def broken(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]], schema: dict[str, Any]) -> tuple[str, bytes]:
    """(what was done, body bytes): a valid body, or one broken in one named way."""
    body = dict(draw(valid))
    how = draw(st.sampled_from(["valid", "valid", "drop-required", "wrong-type", "out-of-range", "unknown-field", "not-json", "not-object"]))
    props = schema.get("properties", {})
    if how == "drop-required" and schema.get("required"):
        body.pop(draw(st.sampled_from(sorted(schema["required"]))), None)
    elif how == "wrong-type" and props:
        body[draw(st.sampled_from(sorted(props)))] = draw(st.one_of(TEXT, st.lists(st.integers(), max_size=2), st.dictionaries(TEXT, st.integers(), max_size=2)))
    elif how == "out-of-range":
        body[draw(st.sampled_from(["temperature", "max_tokens", "max_completion_tokens"]))] = draw(st.sampled_from([-1, 0, 3, 5000, 10**12, -0.5]))
    elif how == "unknown-field":
        body[draw(TEXT)] = draw(ANY_JSON)
    elif how == "not-json":
        return how, draw(st.sampled_from([b"", b"{", b"nul", b"\xff\xfe", b'{"messages": [}', b"[1,2"]))
    elif how == "not-object":
        return how, json.dumps(draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), TEXT))).encode()
    for key in ("model", "deployment"):
        if isinstance(body.get(key), str) and body[key] in LOCAL:
            body[key] = "sim-fast"
    return how, json.dumps(body).encode()  # json: integers beyond 64 bits are fair game


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    logs = tmp_path_factory.mktemp("fuzz-logs")
    handle = start_server(port=free_port(), log_dir=str(logs))
    yield handle
    handle.stop()


def check(resp: httpx2.Response, body_field_names: set[str], what: str) -> None:
    """Never 5xx; a 4xx is a JSON error whose message names what was wrong."""
    assert resp.status_code < 500, (what, resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        err = resp.json()["error"]
        msg, param = err["message"], err.get("param")
        assert msg and "Traceback" not in msg and "\n" not in msg
        if resp.status_code == 422:
            assert param and f"field '{param}'" in msg, msg  # e.g. "field 'messages.0.role': Input should be ..."
            top = param.split(".")[0]
            assert top == "body" or top in body_field_names or top in ("query", "path", "header") or param, msg
        elif resp.status_code == 400:
            assert any(n in msg for n in ("'x-sim-fault'", "'x-sim-profile'", "'api-version'")), msg
        elif resp.status_code == 404:
            assert "'" in msg  # names the model, deployment or id it did not find


@pytest.mark.slow
def test_fuzz_endpoints_from_openapi(fuzz_server: Any) -> None:
    url = fuzz_server.url
    schema = http_get(f"{url}/openapi.json", timeout=10).json()
    schema.setdefault("components", {}).setdefault("schemas", {})["RelayRequest"] = RelayRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in RelayRequest.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items():
        schema["components"]["schemas"][name] = sub
    comps = schema["components"]["schemas"]
    routes = {  # route -> body schema name (every POST route that takes a body, and the relay's)
        "/v1/chat/completions": "ChatRequest",
        "/v1/completions": "CompletionRequest",
        "/openai/deployments/{name}/chat/completions": "ChatRequest",
        "/openai/deployments/{name}/completions": "CompletionRequest",
        "/chat/stream": "RelayRequest",
        "/v1/responses": "ResponsesRequest",
        "/openai/v1/responses": "ResponsesRequest",
        "/openai/v1/chat/completions": "ChatRequest",
        "/openai/v1/completions": "CompletionRequest",
    }
    for path, ops in schema["paths"].items():
        if "post" in ops and "requestBody" in ops["post"]:
            assert path in routes, f"new POST route {path}: add it to the fuzzer"
    counts: dict[int, int] = {}
    http = http_client(timeout=15)

    def send(method: str, path: str, **kw: Any) -> httpx2.Response:
        if method == "GET":
            return http.get(url + path, **kw)
        with http.stream("POST", url + path, **kw) as r:
            r.read()  # a stream is read to its end: a failure mid-stream would show here
        return r

    route_bodies = {p: broken(from_schema(comps[n], schema), comps[n]) for p, n in routes.items()}
    name_st = st.one_of(st.sampled_from(["sim-fast", "sim-slow", "nope"]), st.text(alphabet=string.ascii_letters + "-_.~%", min_size=1, max_size=20))
    header_st = st.one_of(
        st.just({"x-sim-profile": FAST}),
        st.just({}),
        st.builds(lambda v: {"x-sim-profile": FAST, "x-sim-fault": v}, st.one_of(st.text(alphabet=string.printable.strip(), max_size=20).filter(
            lambda s: s.strip() not in ("429", "500", "503", "reset", "drop", "stall", "slow_headers", "malformed", "azure_annotations", "content_filter", "error_event")),
            st.just('{"kind": "drop", "after_tokens": -1}'), st.just('{"kind": "429", "colour": 1}'))),  # fmt: skip
        st.builds(lambda v: {"x-sim-profile": v}, st.one_of(st.text(alphabet=string.printable.strip(), max_size=20),
                  st.just('{"ttft_ms": -5}'), st.just('{"tokens_per_s": 0}'), st.just('{"output_tokens": "many"}'), st.just('{"x": 1}'))),  # fmt: skip
    )

    # Bounded by examples, not by the clock (a time cut-off makes replays differ from the first run).
    # Deterministic by default so CI is repeatable; FUZZ_RANDOM=1 FUZZ_EXAMPLES=5000 explores further.
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=not os.environ.get("FUZZ_RANDOM"))  # fmt: skip
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from([*routes, "GET /debug/truths", "GET /debug/truth", "GET /v1/models", "GET /health", "GET /chat/deployments"]))
        if path.startswith("GET "):
            route = path[4:]
            if route == "/debug/truths":
                r = send("GET", route, params=data.draw(st.one_of(st.just({}), st.dictionaries(st.sampled_from(["model", "x"]), TEXT, max_size=2))))
            elif route == "/debug/truth":
                r = send("GET", route + "/" + data.draw(st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=30)))
            else:
                r = send("GET", route)
            check(r, set(), path)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            return
        how, body = data.draw(route_bodies[path])
        target = path.replace("{name}", data.draw(name_st).replace("/", "_"))
        target = target if target.split("/")[-2] not in LOCAL else target.replace("/local/", "/sim-fast/")
        params = data.draw(st.one_of(st.just({"api-version": "2024-10-21"}), st.just({}), st.builds(lambda v: {"api-version": v}, TEXT))) if "{name}" in path else {}
        headers = {"content-type": "application/json", **data.draw(header_st)}
        r = send("POST", target, content=body, headers=headers, params=params)
        check(r, set(comps[routes[path]].get("properties", {})), f"{how} {target} {body[:200]!r} {headers}")
        counts[r.status_code] = counts.get(r.status_code, 0) + 1

    try:
        one()
    finally:
        http.close()
    print(f"fuzz: {sum(counts.values())} requests, by status {dict(sorted(counts.items()))}")
    assert sum(counts.values()) >= 100, counts
    assert counts.get(200, 0) >= 10 and counts.get(422, 0) >= 10, counts  # both sides were exercised
    assert not any(s >= 500 for s in counts)
    log = Path(fuzz_server.log_path).read_text(errors="replace")
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]
