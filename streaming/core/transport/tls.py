"""One TLS context per CA setting, shared by every HTTP client of the process.

Building a context reads the whole CA bundle: about 50 ms of CPU. httpx2 builds one for each ``Client`` it
makes, even for a plain-HTTP URL, so a client per health check, per demo turn or per scrape target paid that
each time (and the scrape's was felt by a running benchmark's event loop). A configured ``SSLContext`` is safe
to share between connections and threads, so it is built once for each setting that decides what it trusts:
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when the environment is trusted (httpx2's rule), else the system's CAs.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx2


def trusted_context(trust_env: bool = True) -> ssl.SSLContext:
    """The context httpx2 would build for ``verify=True``, built once per CA setting (set the variables before use)."""
    cafile, capath = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")) if trust_env else (None, None)
    return _build(trust_env, cafile, capath)


@functools.lru_cache(maxsize=8)
def _build(trust_env: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    return httpx2.create_ssl_context(trust_env=trust_env)  # reads the variables itself; the arguments key the cache
