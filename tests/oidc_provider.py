"""A small OpenID Connect provider for the tests: discovery, authorize (auto-approves one user), token (code + PKCE), JWKS, userinfo.

It signs RS256 ID tokens with a key made at start, checks the client's secret, the redirect URI and the PKCE
verifier, and records every token exchange, so a test can prove a real code-for-token exchange took place.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from streaming.server.launcher import free_port

USER = {"sub": "user-1", "email": "alice@example.com", "name": "Alice Example", "email_verified": True}


@dataclass
class Provider:
    """The provider's state: its URL, its client, and what it issued."""

    url: str
    client_id: str = "lab-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # one per successful code → token exchange
    refused: list[str] = field(default_factory=list)


def make_app(p: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {"issuer": p.url, "authorization_endpoint": f"{p.url}/authorize", "token_endpoint": f"{p.url}/token",
                "jwks_uri": f"{p.url}/jwks", "userinfo_endpoint": f"{p.url}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"], "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}  # fmt: skip

    @app.get("/authorize")
    def authorize(request: Request) -> Any:
        q = request.query_params
        if q.get("client_id") != p.client_id or q.get("response_type") != "code":
            p.refused.append("authorize")
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        p.codes[code] = {"redirect_uri": q["redirect_uri"], "nonce": q.get("nonce"), "challenge": q.get("code_challenge")}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302)

    @app.post("/token")
    def token(request: Request, grant_type: str = Form(...), code: str = Form(...), redirect_uri: str = Form(...),
              code_verifier: str | None = Form(None), client_id: str | None = Form(None), client_secret: str | None = Form(None)) -> Any:  # fmt: skip
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        grant = p.codes.pop(code, None)
        ok = grant_type == "authorization_code" and grant is not None and client_id == p.client_id and client_secret == p.client_secret
        ok = ok and grant["redirect_uri"] == redirect_uri  # type: ignore[index]
        if ok and grant["challenge"]:  # type: ignore[index]
            digest = base64.urlsafe_b64encode(hashlib.sha256((code_verifier or "").encode()).digest()).rstrip(b"=").decode()
            ok = digest == grant["challenge"]  # type: ignore[index]
        if not ok:
            p.refused.append("token")
            return JSONResponse({"error": "invalid_grant"}, 400)
        now = int(time.time())
        claims = dict(USER, iss=p.url, aud=p.client_id, iat=now, exp=now + 600, nonce=grant["nonce"])  # type: ignore[index]
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, p.key)
        p.exchanges.append({"client_id": client_id, "pkce": bool(code_verifier)})
        return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600, "id_token": id_token, "scope": "openid email profile"}

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [p.key.as_dict(private=False)]}

    @app.get("/userinfo")
    def userinfo() -> dict[str, Any]:
        return USER

    return app


@contextmanager
def running_provider() -> Iterator[Provider]:
    """The provider on a free loopback port, in a thread of the test process."""
    port = free_port()
    p = Provider(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(make_app(p), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the OIDC provider did not start"
        time.sleep(0.02)
    try:
        yield p
    finally:
        server.should_exit = True
        t.join(5)
