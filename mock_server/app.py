"""Build the Connexion app: each vendor API from its contract, error mapping, CORS, control API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import connexion.context
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server import background
from mock_server.auth import Credentials
from mock_server.clock import Clock, SystemClock
from mock_server.connection_faults import ConnectionFaulted, ConnectionFaultMiddleware
from mock_server.connexion_adapter import security_map, validator_map
from mock_server.contract_facts import error_format_of
from mock_server.control.forced import Forcing, Sleep
from mock_server.control.guard import ControlGuardMiddleware, ControlPolicy, VendorCORSMiddleware
from mock_server.control.handlers import CONTROL_PATH, ControlHandlers
from mock_server.control.health import Probes, probe_routes
from mock_server.control.journal import DEFAULT_BYTES, Journal, JournalMiddleware
from mock_server.control.lifecycle import AutoLifecycle
from mock_server.control.state import read_state_file
from mock_server.domain import TableError
from mock_server.errors import AllowedMethods, ErrorRouter
from mock_server.fixtures import DEMO_FIXTURES, read_fixtures
from mock_server.json_codec import JSONIFIER
from mock_server.registry import control_contract
from mock_server.runtime import (
    StateService,
    VendorApi,
    checked_error_kinds,
    checked_handlers,
    control_error_kinds,
    vendor_apis,
)
from mock_server.served import contract_routes
from mock_server.sessions import (
    SESSION_HEADER,
    Session,
    SessionFiles,
    SessionHooks,
    SessionLimits,
    Sessions,
)
from mock_server.store import SessionGone, Store, StoreUnavailable
from mock_server.store.backends import StoreBackend, store_backend
from mock_server.thread_shares import ThreadShares
from mock_server.vendor import Handler, Vendor

# Operations whose work grows with the whole state (a 10^4-record export takes seconds): always
# in a worker thread, so that the event loop keeps answering everyone else meanwhile.
SLOW_OPERATIONS = frozenset({"getState", "putState"})
# The probes: in a worker thread (readiness waits up to a second for the store), and never
# behind the default state's share of the threads (a busy state is still a ready mock).
PROBES = frozenset({"liveness", "readiness"})
SESSION_ATTEMPTS = 5  # a request finding its session deleted runs again in the new one


@dataclass(frozen=True)
class MockConfig:
    # Each vendor's accepted credentials, by vendor name; a vendor not named accepts its demo.
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    demo: bool = True
    seed_files: tuple[Path, ...] = ()
    start_state: Path | None = None  # --state: a whole state document to start on instead
    control: bool = True
    validate_responses: bool = False  # on in our tests; off when serving, for speed
    store: str = "memory"
    clock: Clock = field(default_factory=SystemClock)
    sleep: Sleep = asyncio.sleep  # how a fault's latency waits
    journal_size: int = 1000  # exchanges kept per session for GET /__mock__/requests; 0: none
    # Whether the app's own layer journals its API requests (the proxy journals its exchanges).
    journal_requests: bool = True
    journal_max_mb: float = DEFAULT_BYTES / 1024 / 1024  # all sessions' entries together
    lifecycle_step: timedelta | None = None  # --lifecycle auto:DURATION
    session_limits: SessionLimits = field(default_factory=SessionLimits)  # --max-*sessions
    control_origins: frozenset[str] = frozenset()  # --control-origin: pages that may use it
    control_token: str | None = None  # --control-token: required with every control request

    def credentials_for(self, vendor: Vendor) -> Credentials:
        return self.credentials.get(vendor.name, vendor.credentials.demo)


@dataclass(frozen=True)
class MockApp:
    """The mock as built: an ASGI app, and what the command line and tests ask of it."""

    asgi: AsyncApp
    serving: ASGIApp  # what a server runs: the Connexion app inside its connection faults
    apis: Mapping[str, VendorApi]
    states: StateService
    sessions: Sessions[Session]
    errors: ErrorRouter  # also answers the HTTP protocol's own refusals (before_app)
    backend: StoreBackend
    journal: Journal  # what GET /__mock__/requests reads

    def close(self) -> None:
        """What the app's lifespan does at its end, for an app that never served (the
        command line's, when workers serve)."""
        closed(self.sessions, self.backend)

    @property
    def default(self) -> Session:
        """The state requests without ``X-Mock-Session`` use."""
        return self.sessions.default

    def banner(self, api: VendorApi) -> list[str]:
        """The start-up banner's lines about ``api``'s demo resources."""
        return api.runtime.banner(self.default.store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serving(scope, receive, send)


def session_files(backend: StoreBackend) -> SessionFiles | None:
    """How sessions are kept beyond this process: in a shared store, or not at all."""
    if not backend.shared:
        return None
    return SessionFiles(
        names=backend.stored_sessions,
        exists=backend.session_stored,
        remove=backend.remove_session,
        stamp=backend.stamp_session,
        unused=backend.unused_sessions,
    )


def build_app(config: MockConfig | None = None, store: Store | None = None) -> MockApp:
    """The mock, built once for this process; ``store`` overrides ``config.store`` (tests wrap
    stores). A StartupError (one line) if a contract and its handlers disagree."""
    config = config or MockConfig()
    apis = vendor_apis(config.credentials_for, config.clock)
    # Read every fixtures file up front, so a bad --seed file stops start-up, not a reset.
    paths = ([DEMO_FIXTURES] if config.demo else []) + list(config.seed_files)
    start_records = read_state_file(config.start_state) if config.start_state else []
    states = StateService(apis, [read_fixtures(path) for path in paths], start_records)
    backend = store_backend(config.store)
    default = Session(None, states.opened(store or backend.open()))
    sessions: Sessions[Session] = Sessions(
        default,
        SessionHooks(
            open=lambda name: Session(
                name,
                states.opened(backend.open_session(name, config.session_limits.max_sessions)),
            ),
            release=lambda session: session.store.close(),
            discard=lambda session: session.store.destroy(),
        ),
        config.session_limits,
        session_files(backend),
    )
    faults = backend.faults()
    journal = Journal(config.journal_size, int(config.journal_max_mb * 1024 * 1024))
    probes = Probes(backend)
    control = ControlHandlers(apis, states, sessions, faults, journal, probes)
    control_api = control_contract()
    control_errors = error_format_of(control_api, "the control contract")
    checked_error_kinds("the control API", control_errors, control_error_kinds(apis))
    control_handlers = checked_handlers(
        "the control API",
        control_api,
        [control.operations(), *(api.runtime.control_operations for api in apis.values())],
    )
    lifecycle = (
        AutoLifecycle(sessions, states.vendors, config.lifecycle_step, config.clock)
        if config.lifecycle_step is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as running:
            running.enter_context(startup_objects_frozen())
            if lifecycle is not None:
                await running.enter_async_context(lifecycle.running())
            await running.enter_async_context(sessions_tidied(sessions, config))
            yield
        probes.close()
        closed(sessions, backend)

    app = AsyncApp(
        __name__,
        middlewares=connexion_middlewares(config.validate_responses),
        lifespan=lifespan,
        strict_validation=True,
        validate_responses=config.validate_responses,
        validator_map=validator_map(),
        jsonifier=JSONIFIER,
        # Connexion would serve each contract with every $ref inlined; served.py serves them
        # as written, so that clients generated from the URL keep the vendor's schema names.
        swagger_ui_options=SwaggerUIOptions(serve_spec=False),
    )
    errors = ErrorRouter()
    calls = Calls(sessions, not default.store.blocking, config.clock, ThreadShares())
    for api in apis.values():
        forcing = Forcing(api.name, api.answers, api.error_format, faults, config.sleep)
        resolver = calls.resolver(api.runtime.operations, forcing)
        # Longest first: /v3/credit/... must not be taken by the /v3 mount.
        for base_path in sorted(api.base_paths, key=len, reverse=True):
            allowed = AllowedMethods(base_path, api.contract["paths"])
            errors.register(base_path, api.error_format, allowed)
            app.add_api(
                api.contract,
                base_path=base_path,
                resolver=resolver,
                security_map=security_map(api.credentials.check),
                name=base_path,
                # Query parameters the contract does not name: refused, or ignored as the
                # vendor does (x-mock-unknown-query-parameters).
                strict_validation=api.facts.unknown_query_parameters == "refused",
            )
            contract_routes(app, api.contract, base_path)

    if config.control:
        errors.register(CONTROL_PATH, control_errors)
        app.add_api(
            control_api, base_path=CONTROL_PATH, resolver=calls.resolver(control_handlers, None)
        )
        contract_routes(app, control_api, CONTROL_PATH)
    else:
        probe_routes(app, CONTROL_PATH, probes)  # a probe knows nothing of the control API
    index_route(app, apis, config.control)

    app.add_error_handler(ConnectionFaulted, answered_by_the_connection)
    app.add_error_handler(TableError, errors.on_domain_error)
    app.add_error_handler(ProblemException, errors.on_problem)
    app.add_error_handler(HTTPException, errors.on_http_exception)
    app.add_error_handler(Exception, errors.on_unexpected)
    control_policy = ControlPolicy(CONTROL_PATH, config.control_origins, config.control_token)
    if config.control:
        # Outermost: a request the guard refuses reaches nothing else.
        app.add_middleware(
            ControlGuardMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            policy=control_policy,
            error_format=control_errors,
        )
    if config.journal_size and config.journal_requests:
        # Outside CORS and the error handlers: the journal sees what the client got.
        app.add_middleware(
            JournalMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            journal=journal,
            base_paths=[path for api in apis.values() for path in api.base_paths],
        )
    # Outermost but for the guard and the journal, so that error responses carry CORS headers
    # too and preflights need no auth.
    app.add_middleware(
        VendorCORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        policy=control_policy,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
    )
    return MockApp(
        asgi=app,
        serving=ConnectionFaultMiddleware(app, config.sleep),
        apis=apis,
        states=states,
        sessions=sessions,
        errors=errors,
        backend=backend,
        journal=journal,
    )


def answered_by_the_connection(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A stand-in for the answer a connection fault replaces (ConnectionFaultMiddleware never
    sends it)."""
    return ConnexionResponse(status_code=200, body=b"")


def closed(sessions: Sessions[Session], backend: StoreBackend) -> None:
    """Close every session's store, then the backend (its connections)."""
    for each in sessions.all():
        each.store.close()
    backend.close()


def index_route(app: AsyncApp, apis: Mapping[str, VendorApi], control: bool) -> None:
    """``GET /``: what this mock serves and where (a path outside every API is a 404 that
    points here)."""
    index = {
        "service": "refund contract kit mock",
        "apis": {
            api.name: {
                "title": api.vendor.title,
                "base_paths": api.base_paths,
                "contract": f"{api.base_paths[0]}/openapi.json",
                "swagger_ui": f"{api.base_paths[0]}/ui/",
            }
            for api in apis.values()
        },
        "dashboard": f"{CONTROL_PATH}/" if control else None,
        "control_api": f"{CONTROL_PATH}/openapi.json" if control else None,
    }
    body = json.dumps(index, indent=2).encode()

    async def endpoint(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    app.add_url_rule("/", endpoint="index", view_func=endpoint, methods=["GET"])


def sessions_tidied(
    sessions: Sessions[Session], config: MockConfig
) -> contextlib.AbstractAsyncContextManager[None]:
    """Tidy the sessions in the background while serving: idle ones closed, deleted ones
    (by another worker) forgotten."""
    return background.every(
        min(config.session_limits.idle_seconds / 4, 5.0),
        lambda: sessions.tidy(config.clock.now().timestamp()),
        "tidying the sessions",
    )


@contextlib.contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Leave what start-up built (contracts, routes, validators: about 70,000 objects) out of
    garbage collection while serving. A full collection walked them all, about 25 ms paid by
    whichever request set it off: most of the mock's p99."""
    gc.collect()  # so that no garbage is frozen with them
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def connexion_middlewares(validate_responses: bool) -> list[type]:
    """Connexion's stack, less response validation when it is off: that middleware would still
    look up every request's route only to pass it on."""
    return [
        middleware
        for middleware in ConnexionMiddleware.default_middlewares
        if validate_responses or middleware is not ResponseValidationMiddleware
    ]


@dataclass(frozen=True)
class Calls:
    """How a request reaches its handler: in the request's session (``X-Mock-Session``), after
    any answer a developer forced (a fault or ``Prefer``).

    Connexion runs plain functions in a thread pool; with a store that never waits
    (``Store.blocking`` false) the hop costs more than the handler, so the handlers run on the
    event loop instead: +30 % requests/s for a bare Connexion app here."""

    sessions: Sessions[Session]
    on_event_loop: bool
    clock: Clock
    shares: ThreadShares  # of the worker threads, per session

    def resolver(self, handlers: Mapping[str, Handler], forcing: Forcing | None) -> Resolver:
        """Connexion's resolver for an API whose operations ``handlers`` serves (checked
        against its contract at start-up)."""
        return Resolver(
            function_resolver=lambda operation_id: self.call(
                operation_id, handlers[operation_id], forcing
            )
        )

    def call(
        self, operation_id: str, handler: Handler, forcing: Forcing | None
    ) -> Callable[..., Awaitable[Any]]:
        async def run(**params: Any) -> Any:
            headers = Headers(scope=connexion.context.scope)
            name = headers.get(SESSION_HEADER)
            # A bad name or a full mock is refused before any fault.
            session = (
                session_state(self.sessions, name, self.clock) if name else self.sessions.default
            )
            if forcing is not None:
                forced = await forcing.answer(operation_id, headers.get("prefer"), name)
                if forced is not None:
                    return forced
            if operation_id in PROBES:
                return await run_in_threadpool(handler, session, **params)
            for _ in range(SESSION_ATTEMPTS):
                try:
                    if self.on_event_loop and operation_id not in SLOW_OPERATIONS:
                        return handler(session, **params)
                    async with self.shares.held(name or ""):
                        return await run_in_threadpool(handler, session, **params)
                except SessionGone:
                    # Its session was deleted under it: whatever it wrote went with the session,
                    # so it runs again in the session made anew (with the start fixtures).
                    self.sessions.forget_gone(name or "", session)
                    session = session_state(self.sessions, name, self.clock)
            raise StoreUnavailable(
                f"The session {name!r} was deleted {SESSION_ATTEMPTS} times while this"
                " request waited: nothing was done; send it again"
                if name
                else "The mock's store file was deleted while the mock ran: restart the mock"
            )

        # Connexion passes the parameters the handler names, less the session it is given here.
        signature = inspect.signature(handler)
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=list(signature.parameters.values())[1:]
        )
        run.__name__ = operation_id
        return run


def session_state(sessions: Sessions[Session], session: str | None, clock: Clock) -> Session:
    """The state of the request's session, opened anew while another process deletes it."""
    for _ in range(SESSION_ATTEMPTS):
        with contextlib.suppress(SessionGone):  # deleted while it was being opened
            return sessions.state(session, clock.now().timestamp())
    raise StoreUnavailable(
        f"The session {session!r} was deleted {SESSION_ATTEMPTS} times while this request"
        " opened it: nothing was done; send it again"
    )
