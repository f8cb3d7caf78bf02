"""Fixtures for the suite's tests: the run's options, setup data, and a checking HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.apis import APIS
from conformance.fixtures import SetupData
from conformance.http import ContractClient, RateLimiter
from conformance.options import RunOptions
from conformance.plugin import SuiteState, state


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> SuiteState:
    found = state(request.config)
    if found is None:
        pytest.skip("the conformance suite needs --conformance-api and --conformance-base-url")
    return found


@pytest.fixture(scope="session")
def run(suite: SuiteState) -> RunOptions:
    return suite.options


@pytest.fixture(scope="session")
def setup(suite: SuiteState) -> SetupData:
    return suite.setup


@pytest.fixture(scope="session")
def limiter(run: RunOptions) -> RateLimiter:
    return RateLimiter(run.max_rps)


@pytest.fixture
def client(suite: SuiteState, run: RunOptions, limiter: RateLimiter) -> Iterator[ContractClient]:
    """An HTTP client for the API under test; every response is checked against the contract."""
    path = APIS[run.api].contract_path
    http = ContractClient(run.base_url, path, run.auth, limiter, suite.headers)
    yield http
    http.close()


@pytest.fixture
def anonymous(suite: SuiteState, run: RunOptions, limiter: RateLimiter) -> Iterator[ContractClient]:
    """The same client without credentials."""
    path = APIS[run.api].contract_path
    http = ContractClient(run.base_url, path, None, limiter, suite.headers)
    yield http
    http.close()
