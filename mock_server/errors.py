"""The one place where errors become vendor error bodies.

Domain rules raise ``DomainError(kind, message)``; Connexion and Starlette raise their own
exceptions for validation, auth, routing and media-type failures. Both end here and are answered
in the error shape of the API whose path was asked for, never as ``application/problem+json``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from mock_server.domain import TableError
from mock_server.error_formats import ErrorFormat, ProblemErrorFormat
from mock_server.error_kinds import Common
from mock_server.exchange import current as current_exchange

logger = logging.getLogger("mock_server")

# Error kinds for failures the framework detects, by HTTP status.
FRAMEWORK_KINDS = {
    400: Common.INVALID_REQUEST,
    401: Common.UNAUTHORIZED,
    403: Common.UNAUTHORIZED,
    404: Common.ROUTE_NOT_FOUND,
    405: Common.METHOD_NOT_ALLOWED,
    413: Common.PAYLOAD_TOO_LARGE,
    415: Common.UNSUPPORTED_MEDIA_TYPE,
}


class AllowedMethods:
    """The methods a contract serves on each of its paths, for the ``Allow`` header of a 405.

    Connexion routes each operation separately, so Starlette's 405 names only the methods of the
    first route whose path matched (``POST`` where ``GET, POST`` are served).
    """

    def __init__(self, base_path: str, paths: dict[str, dict[str, Any]]) -> None:
        self._templates = [
            (
                _template_regex(base_path + template),
                sorted(m.upper() for m in item if m in _METHODS),
            )
            for template, item in paths.items()
        ]

    def for_path(self, path: str) -> list[str]:
        for regex, methods in self._templates:
            if regex.fullmatch(path):
                return methods
        return []


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


NEUTRAL = ProblemErrorFormat()


class ErrorRouter:
    """Picks the error format (and the served methods) by the longest matching path prefix; a
    path under no registered prefix is answered in the neutral problem+json shape."""

    def __init__(self) -> None:
        self._formats: list[tuple[str, ErrorFormat, AllowedMethods | None]] = []

    def register(
        self, prefix: str, error_format: ErrorFormat, allowed: AllowedMethods | None = None
    ) -> None:
        self._formats.append((prefix.rstrip("/"), error_format, allowed))
        self._formats.sort(key=lambda entry: len(entry[0]), reverse=True)

    def format_for(self, path: str) -> ErrorFormat:
        return self._entry(path)[1]

    def _entry(self, path: str) -> tuple[str, ErrorFormat, AllowedMethods | None]:
        for entry in self._formats:
            prefix = entry[0]
            if path == prefix or path.startswith(prefix + "/"):
                return entry
        return "", NEUTRAL, None

    def served_prefixes(self) -> list[str]:
        return sorted(prefix for prefix, _, _ in self._formats)

    def before_app(self, path: str, status: int, message: str) -> tuple[int, str, bytes]:
        """Status, media type and body for a request the HTTP protocol refuses before it reaches
        the app, from as much of its path as was read: the API's shape when its table has a
        kind for the status, else the neutral one."""
        error_format = self.format_for(path)
        kind = error_format.kind_for(status)
        if kind is None:
            error_format, kind = NEUTRAL, NEUTRAL.kind_for(status) or Common.INVALID_REQUEST
        body = json.dumps(error_format.body(kind, message)).encode()
        return error_format.status(kind), error_format.media_type, body

    def respond(
        self, path: str, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> ConnexionResponse:
        error_format = self.format_for(path)
        if not error_format.knows(kind):
            # Start-up checked every declared kind against each table this API's operations
            # reach; one raised where it was not declared is a bug of the mock's, said as one.
            logger.error("error kind %r raised on %s, which its API's table lacks", kind, path)
            kind, message = Common.INTERNAL_ERROR, f"Internal server error ({kind}: {message})"
        return ConnexionResponse(
            status_code=error_format.status(kind),
            mimetype=error_format.media_type,
            content_type=error_format.media_type,
            body=json.dumps(error_format.body(kind, message)),
            headers=headers or {},
        )

    # Connexion error handlers -------------------------------------------------------------

    def on_domain_error(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        """A DomainError, or a DocumentedError a developer forced."""
        assert isinstance(exc, TableError)
        return self.respond(request.url.path, exc.kind, exc.message)

    def on_problem(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ProblemException)
        message = str(exc.detail or exc.title or "Request failed")
        return self._framework_error(request, exc.status, message, exc.headers)

    def on_http_exception(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        return self._framework_error(request, exc.status_code, str(exc.detail), exc.headers)

    def on_unexpected(self, request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        # Called after the exception was handled: pass it, or the log shows no traceback.
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return self.respond(request.url.path, Common.INTERNAL_ERROR, "Internal server error")

    def _framework_error(
        self,
        request: ConnexionRequest,
        status: int | None,
        message: str,
        headers: Mapping[str, str] | None,
    ) -> ConnexionResponse:
        started = current_exchange()
        if started is not None and (status or 500) < 500:
            started.refused = message  # by the contract's paths, methods, schemas or security
        kind = FRAMEWORK_KINDS.get(status or 500, Common.INTERNAL_ERROR)
        headers = dict(headers or {})
        allowed = self._entry(request.url.path)[2]
        if kind == Common.METHOD_NOT_ALLOWED and allowed is not None:
            methods = allowed.for_path(request.url.path)
            if methods:
                headers["Allow"] = ", ".join(methods)
        if kind == Common.UNAUTHORIZED:
            headers.setdefault("WWW-Authenticate", 'Basic realm="refund-contract-kit mock"')
        if kind == Common.ROUTE_NOT_FOUND and self.format_for(request.url.path) is NEUTRAL:
            message = (
                f"No API is served at {request.url.path}: this mock serves "
                + ", ".join(self.served_prefixes())
                + " (GET / lists them)"
            )
        return self.respond(request.url.path, kind, _readable(kind, message), headers)


MAX_MESSAGE = 500  # a message quoting a huge value quotes its start
_LONG_QUOTE = re.compile(r"'([^']{60})[^']{4,}'")


def _readable(kind: str, message: str) -> str:
    """Connexion's messages, reworded where they would confuse a client developer."""
    message = _LONG_QUOTE.sub(r"'\1...'", message)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    if kind == Common.UNAUTHORIZED:
        return f"Invalid or missing credentials: {message}"
    if kind == Common.UNSUPPORTED_MEDIA_TYPE:
        return f"Request body must be application/json ({message})"
    return message
