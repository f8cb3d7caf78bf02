"""Build the Connexion app: each vendor API from its contract, error mapping, CORS, control API."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from mock_server.auth import (
    DEMO_BALANCED_CREDENTIALS,
    DEMO_CREDENTIALS,
    Credentials,
    security_map,
)
from mock_server.balanced.handlers import BalancedHandlers
from mock_server.balanced.service import BalancedService
from mock_server.balanced.service import Policy as BalancedPolicy
from mock_server.clock import Clock, SystemClock
from mock_server.control.handlers import ControlHandlers
from mock_server.domain import DomainError
from mock_server.errors import (
    AllowedMethods,
    BalancedErrorFormat,
    CodedErrorFormat,
    ErrorFormat,
    ErrorRouter,
)
from mock_server.fixtures import DEMO_FIXTURES, apply_fixtures, read_fixtures
from mock_server.marqeta.handlers import MarqetaHandlers
from mock_server.marqeta.service import MarqetaService
from mock_server.marqeta.service import Policy as MarqetaPolicy
from mock_server.spec import Contract, error_codes, load_contract
from mock_server.store import Store, open_store
from mock_server.validation import validator_map

MARQETA_CONTRACT = "marqeta-credit.yaml"
BALANCED_CONTRACT = "balanced-v1.yaml"
CONTROL_CONTRACT = "mock-control.yaml"
CONTROL_PATH = "/__mock__"


@dataclass(frozen=True)
class MockConfig:
    credentials: Credentials = DEMO_CREDENTIALS
    balanced_credentials: Credentials = DEMO_BALANCED_CREDENTIALS
    demo: bool = True
    seed_files: tuple[Path, ...] = ()
    control: bool = True
    validate_responses: bool = False  # on in our tests; off when serving, for speed
    store: str = "memory"
    clock: Clock = field(default_factory=SystemClock)


class MockState:
    """Everything the handlers share: the store and each vendor's service."""

    def __init__(self, config: MockConfig, store: Store) -> None:
        self.store = store
        self.marqeta = MarqetaService(
            store, config.clock, MarqetaPolicy.from_contract(load_contract(MARQETA_CONTRACT))
        )
        self.balanced = BalancedService(
            store, config.clock, BalancedPolicy.from_contract(load_contract(BALANCED_CONTRACT))
        )
        # Read every fixtures file up front, so a bad --seed file stops start-up, not a reset.
        paths = ([DEMO_FIXTURES] if config.demo else []) + list(config.seed_files)
        self.start_fixtures = [read_fixtures(path) for path in paths]

    def seed(self, fixtures: dict[str, Any]) -> dict[str, Any]:
        return apply_fixtures(self.store, self.marqeta, self.balanced, fixtures)

    def load_start_fixtures(self) -> None:
        for fixtures in self.start_fixtures:
            self.seed(fixtures)

    def reset(self, load_fixtures: bool = True) -> None:
        self.store.clear()
        if load_fixtures:
            self.load_start_fixtures()


@dataclass(frozen=True)
class VendorApi:
    """One vendor contract as the mock serves it."""

    name: str
    contract: Contract
    handlers: object
    error_format: ErrorFormat
    credentials: Credentials

    @property
    def base_paths(self) -> list[str]:
        return base_paths(self.contract)


def base_paths(contract: Contract) -> list[str]:
    """The contract's server paths, e.g. ``/v3`` and ``/v3/credit``."""
    return [server["url"] for server in contract["servers"]]


def vendor_apis(config: MockConfig, state: MockState) -> list[VendorApi]:
    marqeta = load_contract(MARQETA_CONTRACT)
    balanced = load_contract(BALANCED_CONTRACT)
    return [
        VendorApi(
            name="marqeta",
            contract=marqeta,
            handlers=MarqetaHandlers(state.marqeta),
            error_format=CodedErrorFormat(error_codes(marqeta)),
            credentials=config.credentials,
        ),
        VendorApi(
            name="balanced",
            contract=balanced,
            handlers=BalancedHandlers(state.balanced),
            error_format=BalancedErrorFormat(balanced["x-mock-error-categories"]),
            credentials=config.balanced_credentials,
        ),
    ]


def build_app(config: MockConfig | None = None, store: Store | None = None) -> AsyncApp:
    """The mock as an ASGI app; ``store`` overrides ``config.store`` (tests wrap stores)."""
    config = config or MockConfig()
    store = store or open_store(config.store)
    state = MockState(config, store)
    # A durable store restarted on its file keeps its state; fixtures go into an empty one only.
    if store.is_empty():
        state.load_start_fixtures()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        store.close()

    app = AsyncApp(
        __name__,
        lifespan=lifespan,
        strict_validation=True,
        validate_responses=config.validate_responses,
        validator_map=validator_map(),
    )
    errors = ErrorRouter()
    on_event_loop = not store.blocking
    apis = vendor_apis(config, state)
    for api in apis:
        resolver = operation_resolver(api.handlers, on_event_loop)
        # Longest first: /v3/credit/... must not be taken by the /v3 mount.
        for base_path in sorted(api.base_paths, key=len, reverse=True):
            allowed = AllowedMethods(base_path, api.contract["paths"])
            errors.register(base_path, api.error_format, allowed)
            app.add_api(
                api.contract,
                base_path=base_path,
                resolver=resolver,
                security_map=security_map(api.credentials),
                name=base_path,
            )

    if config.control:
        control = load_contract(CONTROL_CONTRACT)
        errors.register(CONTROL_PATH, CodedErrorFormat(error_codes(control)))
        served = {
            api.name: {
                "base_paths": api.base_paths,
                "contract": f"{api.base_paths[0]}/openapi.json",
            }
            for api in apis
        }
        handlers = ControlHandlers(state, served, CONTROL_PATH)
        resolver = operation_resolver(handlers, on_event_loop)
        app.add_api(control, base_path=CONTROL_PATH, resolver=resolver)

    app.add_error_handler(DomainError, errors.on_domain_error)
    app.add_error_handler(ProblemException, errors.on_problem)
    app.add_error_handler(HTTPException, errors.on_http_exception)
    app.add_error_handler(Exception, errors.on_unexpected)
    # Outermost, so that error responses carry CORS headers too and preflights need no auth.
    app.add_middleware(
        CORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.mock_state = state  # type: ignore[attr-defined]  # for tests and the start-up banner
    return app


def operation_resolver(handlers: object, on_event_loop: bool) -> Resolver:
    """Map the contract's vendor operationIds (``createBalanceRefund``) to handler methods.

    Connexion runs plain functions in a thread pool. With a store that never waits
    (``Store.blocking`` false) the hop costs more than the handler, so the handlers run on the
    event loop instead: +30 % requests/s for a bare Connexion app on this machine.
    """

    def resolve(operation_id: str) -> Any:
        handler = getattr(handlers, _snake_case(operation_id))
        return _on_event_loop(handler) if on_event_loop else handler

    return Resolver(function_resolver=resolve)


def _on_event_loop(handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)  # Connexion reads the parameters from the wrapped signature
    async def run(*args: Any, **kwargs: Any) -> Any:
        return handler(*args, **kwargs)

    return run


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
