"""The implementation under test: can it be reached, and is it this kit's mock?"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

CONTROL_HEALTH = "/__mock__/health"


class Unreachable(Exception):
    """The target did not answer at all."""


@dataclass(frozen=True)
class MockControl:
    """This kit's mock control API, found beside the target."""

    url: str  # e.g. http://127.0.0.1:8080/__mock__


def probe(base_url: str, timeout: float = 5.0) -> None:
    """Raise Unreachable unless something answers HTTP at the base URL."""
    try:
        httpx.get(base_url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{base_url} did not answer: {exc}") from exc


def find_mock_control(base_url: str, api: str, timeout: float = 5.0) -> MockControl | None:
    """The mock's control API if its health endpoint serves ``api`` at this base URL's path."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        response = httpx.get(origin + CONTROL_HEALTH, timeout=timeout)
        health = response.json()
        served = health["apis"][api]["base_paths"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if response.status_code != 200 or (parts.path or "/").rstrip("/") not in served:
        return None
    return MockControl(url=origin + health["control"])
