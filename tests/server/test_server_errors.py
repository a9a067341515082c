"""Every error the built-in server returns is OpenAI-shaped, including routes it does not have."""

from __future__ import annotations

from conftest import http_get, http_post


def test_unknown_route_and_wrong_method_are_openai_shaped(server) -> None:
    # a dot segment is normalised away by the client, leaving a route that does not exist (found by the fuzzer)
    r = http_post(f"{server.url}/openai/deployments/./completions?api-version=2024-10-21", json={"prompt": ""})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "not_found_error" and "/openai/deployments/completions" in err["message"]
    r = http_get(f"{server.url}/v1/chat/completions")
    assert r.status_code == 405 and "GET is not allowed" in r.json()["error"]["message"]
