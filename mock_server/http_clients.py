"""One TLS context for every HTTP client the kit makes.

httpx builds a context per client by default, reading the whole CA bundle each time (~25 ms
here): a per-test client of the pytest fixture, or a conformance run's ~30 clients, spent more
on that than on their requests. Built with httpx's own defaults (certifi, or ``SSL_CERT_FILE``
/ ``SSL_CERT_DIR``), so what is trusted does not change; those variables are read when the
first client is made, so set them before. Imports only httpx: the pytest plugin uses it in every
install.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The context to pass as ``verify=``; made on first use, shared by every thread."""
    return httpx.create_ssl_context()
