"""Build the Connexion app: each vendor API from its contract, error mapping, CORS, control API."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import connexion.context
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mock_server import background
from mock_server.auth import Credentials
from mock_server.clock import Clock, SystemClock
from mock_server.connexion_adapter import security_map, validator_map
from mock_server.control.faults import Faults, faults_for
from mock_server.control.forced import Forcing, OperationAnswers, Sleep
from mock_server.control.guard import ControlGuardMiddleware, ControlPolicy, VendorCORSMiddleware
from mock_server.control.handlers import CONTROL_PATH, ControlHandlers
from mock_server.control.journal import Journal, JournalMiddleware
from mock_server.control.lifecycle import AutoLifecycle
from mock_server.domain import DomainError
from mock_server.error_formats import CodedErrorFormat, ErrorFormat
from mock_server.errors import AllowedMethods, ErrorRouter
from mock_server.fixtures import DEMO_FIXTURES, read_fixtures
from mock_server.json_codec import JSONIFIER
from mock_server.registry import VENDORS, control_contract
from mock_server.served import contract_routes
from mock_server.sessions import (
    SESSION_HEADER,
    SessionFiles,
    SessionHooks,
    SessionLimits,
    Sessions,
)
from mock_server.spec import Contract, error_codes, load_contract
from mock_server.store import (
    SessionGone,
    Store,
    StoreUnavailable,
    Transaction,
    is_shared,
    open_session_store,
    open_store,
    remove_stored_session,
    session_stored,
    stored_sessions,
)
from mock_server.thread_shares import ThreadShares
from mock_server.vendor import Vendor, VendorState

# Operations whose work grows with the whole state (a 10^4-record export takes seconds): always in
# a worker thread, so that the event loop keeps answering everyone else meanwhile.
WHOLE_STATE_OPERATIONS = frozenset({"getState", "putState"})
SESSION_ATTEMPTS = 5  # a request finding its session deleted runs again in the new one


@dataclass(frozen=True)
class MockConfig:
    # Each vendor's accepted credentials, by vendor name; a vendor not named accepts its demo.
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    demo: bool = True
    seed_files: tuple[Path, ...] = ()
    control: bool = True
    validate_responses: bool = False  # on in our tests; off when serving, for speed
    store: str = "memory"
    clock: Clock = field(default_factory=SystemClock)
    sleep: Sleep = asyncio.sleep  # how a fault's latency waits
    journal_size: int = 1000  # exchanges kept for GET /__mock__/requests; 0 keeps none
    lifecycle_step: timedelta | None = None  # --lifecycle auto:DURATION
    session_limits: SessionLimits = field(default_factory=SessionLimits)  # --max-*sessions
    control_origins: frozenset[str] = frozenset()  # --control-origin: pages that may use it
    control_token: str | None = None  # --control-token: required with every control request

    def credentials_for(self, vendor: Vendor) -> Credentials:
        return self.credentials.get(vendor.name, vendor.credentials.demo)


@dataclass
class Shared:
    """What every session shares: the served APIs, faults, the request journal."""

    config: MockConfig
    apis: dict[str, VendorApi]
    faults: Faults
    journal: Journal
    start_fixtures: list[dict[str, Any]]
    sessions: Sessions[MockState] | None = None  # set once the default state exists

    @property
    def all_sessions(self) -> Sessions[MockState]:
        if self.sessions is None:
            raise RuntimeError("the sessions are opened once the default state exists")
        return self.sessions


class MockState:
    """One session's state: its store, each vendor's state on it, and the control handlers."""

    def __init__(self, shared: Shared, store: Store, name: str | None = None) -> None:
        clock = shared.config.clock
        self.name = name  # the session's, None for the default state
        self.store = store
        self.start_fixtures = shared.start_fixtures
        self.vendors: dict[str, VendorState] = {
            api.name: api.vendor.open(store, clock, api.contract) for api in shared.apis.values()
        }
        self.control = ControlHandlers(self, shared)
        # A durable store restarted on its file keeps its state; fixtures go into an empty one,
        # checked in the same transaction (replicas or workers may open it at once).
        self.load_start_fixtures(only_into_empty=True)

    def operation(self, api: str, name: str) -> Callable[..., Any]:
        """The handler of an operation (``name`` in snake_case) of a vendor API or the control
        API; a vendor may serve control operations of its own (``VendorState.control``)."""
        owners = (
            [self.vendors[api].handlers]
            if api != "control"
            else [self.control, *(state.control for state in self.vendors.values())]
        )
        for owner in owners:
            handler: Callable[..., Any] | None = getattr(owner, name, None)
            if handler is not None:
                return handler
        raise LookupError(f"no handler {name} for the {api} API")

    def seed(self, fixtures: dict[str, Any]) -> dict[str, Any]:
        """Create everything in ``fixtures`` in one transaction (all or nothing: a duplicate id
        anywhere leaves the state as it was); what was created, by vendor."""
        with self.store.transaction() as tx:
            return self._seed_in(tx, fixtures)

    def _seed_in(self, tx: Transaction, fixtures: dict[str, Any]) -> dict[str, Any]:
        return {
            name: state.seed(tx, fixtures.get(name) or {}) for name, state in self.vendors.items()
        }

    def load_start_fixtures(self, only_into_empty: bool = False) -> None:
        with self.store.transaction() as tx:
            if only_into_empty and not tx.is_empty():
                return
            self._seed_start_fixtures(tx)

    def _seed_start_fixtures(self, tx: Transaction) -> None:
        for fixtures in self.start_fixtures:
            self._seed_in(tx, fixtures)

    def reset(self, load_fixtures: bool = True) -> None:
        """Clear the state and seed the start fixtures, as one transaction: resets at the same
        time (from replicas too) cannot interleave into duplicate tokens."""
        with self.store.transaction() as tx:
            tx.clear()
            if load_fixtures:
                self._seed_start_fixtures(tx)


@dataclass(frozen=True)
class VendorApi:
    """One vendor contract as the mock serves it."""

    vendor: Vendor
    contract: Contract
    error_format: ErrorFormat
    credentials: Credentials

    @property
    def name(self) -> str:
        return self.vendor.name

    @property
    def base_paths(self) -> list[str]:
        return base_paths(self.contract)

    @functools.cached_property
    def answers(self) -> dict[str, OperationAnswers]:
        """What the contract documents each operation may answer, by operationId."""
        return {
            operation["operationId"]: OperationAnswers(
                self.contract, operation["operationId"], operation
            )
            for item in self.contract["paths"].values()
            for operation in item.values()
            if isinstance(operation, dict) and "operationId" in operation
        }


def session_files(store: str) -> SessionFiles | None:
    """How sessions are kept beyond this process: in a shared store's files, or not at all."""
    if not is_shared(store):
        return None
    return SessionFiles(
        names=lambda: stored_sessions(store),
        exists=lambda name: session_stored(store, name),
        remove=lambda name: remove_stored_session(store, name),
    )


def base_paths(contract: Contract) -> list[str]:
    """The contract's server paths, e.g. ``/v3`` and ``/v3/credit``."""
    return [server["url"] for server in contract["servers"]]


def vendor_apis(config: MockConfig) -> dict[str, VendorApi]:
    apis = {}
    for vendor in VENDORS:
        contract = load_contract(vendor.contract_file)
        apis[vendor.name] = VendorApi(
            vendor=vendor,
            contract=contract,
            error_format=vendor.error_format(contract),
            credentials=config.credentials_for(vendor),
        )
    return apis


def build_app(config: MockConfig | None = None, store: Store | None = None) -> AsyncApp:
    """The mock as an ASGI app; ``store`` overrides ``config.store`` (tests wrap stores)."""
    config = config or MockConfig()
    store = store or open_store(config.store)
    apis = vendor_apis(config)
    # Read every fixtures file up front, so a bad --seed file stops start-up, not a reset.
    paths = ([DEMO_FIXTURES] if config.demo else []) + list(config.seed_files)
    shared = Shared(
        config=config,
        apis=apis,
        faults=faults_for(config.store),
        journal=Journal(config.journal_size),
        start_fixtures=[read_fixtures(path) for path in paths],
    )
    state = MockState(shared, store)
    sessions: Sessions[MockState] = Sessions(
        state,
        SessionHooks(
            open=lambda name: MockState(
                shared,
                open_session_store(config.store, name, config.session_limits.max_sessions),
                name,
            ),
            release=lambda session: session.store.close(),
            discard=lambda session: session.store.destroy(),
        ),
        config.session_limits,
        session_files(config.store),
    )
    shared.sessions = sessions
    lifecycle = (
        AutoLifecycle(sessions, config.lifecycle_step, config.clock)
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
        for each in sessions.all():
            each.store.close()

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
    on_event_loop = not store.blocking
    shares = ThreadShares()  # of the worker threads, per session
    for api in apis.values():
        forcing = Forcing(api.name, api.answers, api.error_format, shared.faults, config.sleep)
        resolver = operation_resolver(
            api.name, sessions, forcing, on_event_loop, config.clock, shares
        )
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
                strict_validation=api.contract.get("x-mock-unknown-query-parameters") != "ignored",
            )
            contract_routes(app, api.contract, base_path)

    control = control_contract()
    if config.control:
        errors.register(CONTROL_PATH, CodedErrorFormat(error_codes(control)))
        resolver = operation_resolver(
            "control", sessions, None, on_event_loop, config.clock, shares
        )
        app.add_api(control, base_path=CONTROL_PATH, resolver=resolver)
        contract_routes(app, control, CONTROL_PATH)
    index_route(app, apis, config.control)

    app.add_error_handler(DomainError, errors.on_domain_error)
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
            error_body=CodedErrorFormat(error_codes(control)).body,
        )
    if config.journal_size:
        # Outside CORS and the error handlers: the journal sees what the client got.
        app.add_middleware(
            JournalMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            journal=shared.journal,
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
    app.mock_state = state  # for tests and the start-up banner
    app.mock_sessions = sessions
    app.mock_state_apis = apis  # for the start-up banner
    app.error_router = errors  # for the HTTP protocol's own 400s
    return app


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
    sessions: Sessions[MockState], config: MockConfig
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


def operation_resolver(
    api: str,
    sessions: Sessions[MockState],
    forcing: Forcing | None,
    on_event_loop: bool,
    clock: Clock,
    shares: ThreadShares,
) -> Resolver:
    """Map the contract's vendor operationIds (``createBalanceRefund``) to handler methods.

    Each call runs in the request's session (``X-Mock-Session``), after any answer a developer
    forced (a fault or ``Prefer``). Connexion runs plain functions in a thread pool; with a
    store that never waits (``Store.blocking`` false) the hop costs more than the handler, so
    the handlers run on the event loop instead: +30 % requests/s for a bare Connexion app here.
    """

    def resolve(operation_id: str) -> Any:
        name = _snake_case(operation_id)

        # Connexion reads the parameters from the wrapped (default session's) method.
        @functools.wraps(sessions.default.operation(api, name))
        async def run(*args: Any, **kwargs: Any) -> Any:
            headers = Headers(scope=connexion.context.scope)
            session = headers.get(SESSION_HEADER)
            # A bad name or a full mock is refused before any fault.
            state = session_state(sessions, session, clock) if session else sessions.default
            if forcing is not None:
                forced = await forcing.answer(operation_id, headers.get("prefer"), session)
                if forced is not None:
                    return forced
            for _ in range(SESSION_ATTEMPTS):
                handler = state.operation(api, name)
                try:
                    if on_event_loop and operation_id not in WHOLE_STATE_OPERATIONS:
                        return handler(*args, **kwargs)
                    async with shares.held(session or ""):
                        return await run_in_threadpool(handler, *args, **kwargs)
                except SessionGone:
                    # Its session was deleted under it: whatever it wrote went with the session,
                    # so it runs again in the session made anew (with the start fixtures).
                    sessions.forget_gone(session or "", state)
                    state = session_state(sessions, session, clock)
            raise StoreUnavailable(
                f"The session {session!r} was deleted {SESSION_ATTEMPTS} times while this"
                " request waited: nothing was done; send it again"
                if session
                else "The mock's store file was deleted while the mock ran: restart the mock"
            )

        return run

    return Resolver(function_resolver=resolve)


def session_state(sessions: Sessions[MockState], session: str | None, clock: Clock) -> MockState:
    """The state of the request's session, opened anew while another process deletes it."""
    for _ in range(SESSION_ATTEMPTS):
        with contextlib.suppress(SessionGone):  # deleted while it was being opened
            return sessions.state(session, clock.now().timestamp())
    raise StoreUnavailable(
        f"The session {session!r} was deleted {SESSION_ATTEMPTS} times while this request"
        " opened it: nothing was done; send it again"
    )


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
