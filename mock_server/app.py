"""Build the Connexion app: each vendor API from its contract, error mapping, CORS, control API."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from mock_server.auth import DEMO_CREDENTIALS, Credentials, security_map
from mock_server.clock import Clock, SystemClock
from mock_server.control.handlers import ControlHandlers
from mock_server.domain import DomainError
from mock_server.errors import CodedErrorFormat, ErrorRouter
from mock_server.fixtures import DEMO_FIXTURES, apply_fixtures, read_fixtures
from mock_server.marqeta.handlers import MarqetaHandlers
from mock_server.marqeta.service import MarqetaService, Policy
from mock_server.spec import Contract, error_codes, load_contract
from mock_server.store import Store, open_store
from mock_server.validation import validator_map

MARQETA_CONTRACT = "marqeta-credit.yaml"
CONTROL_CONTRACT = "mock-control.yaml"
CONTROL_PATH = "/__mock__"


@dataclass(frozen=True)
class MockConfig:
    credentials: Credentials = DEMO_CREDENTIALS
    demo: bool = True
    seed_files: tuple[Path, ...] = ()
    control: bool = True
    validate_responses: bool = True
    store: str = "memory"
    clock: Clock = field(default_factory=SystemClock)


class MockState:
    """Everything the handlers share: the store and each vendor's service."""

    def __init__(self, config: MockConfig, store: Store) -> None:
        self.store = store
        self.marqeta = MarqetaService(
            store, config.clock, Policy.from_contract(load_contract(MARQETA_CONTRACT))
        )
        # Read every fixtures file up front, so a bad --seed file stops start-up, not a reset.
        paths = ([DEMO_FIXTURES] if config.demo else []) + list(config.seed_files)
        self.start_fixtures = [read_fixtures(path) for path in paths]

    def load_start_fixtures(self) -> None:
        for fixtures in self.start_fixtures:
            apply_fixtures(self.marqeta, fixtures)

    def reset(self, load_fixtures: bool = True) -> None:
        self.store.clear()
        if load_fixtures:
            self.load_start_fixtures()


def base_paths(contract: Contract) -> list[str]:
    """The contract's server paths, e.g. ``/v3`` and ``/v3/credit``."""
    return [server["url"] for server in contract["servers"]]


def build_app(config: MockConfig | None = None, store: Store | None = None) -> AsyncApp:
    """The mock as an ASGI app; ``store`` overrides ``config.store`` (tests wrap stores)."""
    config = config or MockConfig()
    store = store or open_store(config.store)
    state = MockState(config, store)
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
        security_map=security_map(config.credentials),
    )
    errors = ErrorRouter()

    marqeta = load_contract(MARQETA_CONTRACT)
    marqeta_paths = base_paths(marqeta)
    errors.register(marqeta_paths[0], CodedErrorFormat(error_codes(marqeta)))
    marqeta_resolver = operation_resolver(MarqetaHandlers(state.marqeta))
    # Longest first: /v3/credit/... must not be taken by the /v3 mount.
    for base_path in sorted(marqeta_paths, key=len, reverse=True):
        app.add_api(marqeta, base_path=base_path, resolver=marqeta_resolver, name=base_path)

    if config.control:
        control = load_contract(CONTROL_CONTRACT)
        errors.register(CONTROL_PATH, CodedErrorFormat(error_codes(control)))
        apis = {
            "marqeta": {"base_paths": marqeta_paths, "contract": f"{marqeta_paths[0]}/openapi.json"}
        }
        handlers = ControlHandlers(state, apis, CONTROL_PATH)
        app.add_api(control, base_path=CONTROL_PATH, resolver=operation_resolver(handlers))

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


def operation_resolver(handlers: object) -> Resolver:
    """Map the contract's vendor operationIds (``createBalanceRefund``) to handler methods."""

    def resolve(operation_id: str) -> Any:
        return getattr(handlers, _snake_case(operation_id))

    return Resolver(function_resolver=resolve)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
