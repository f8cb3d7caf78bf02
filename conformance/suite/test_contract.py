"""Property tests: Schemathesis generates requests for every operation of each registered API's
contract and runs every check on each response; linked sequences follow the contract's OpenAPI
links. The tests are made per API from the registry (the plugin keeps the run's API's)."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis import Case

from conformance import contracts
from conformance.apis import APIS


def _operation_test(api: str) -> Any:
    def conforms(case: Case[Any]) -> None:
        case.call_and_validate()

    conforms.__name__ = conforms.__qualname__ = f"test_{api}_operation_conforms"
    conforms.__doc__ = f"Every operation of the {api} contract, with generated requests."
    tested = contracts.schema_for(api).parametrize()(conforms)
    return pytest.mark.conformance_api(api)(tested)


def _linked_sequences(api: str) -> type:
    # Hypothesis makes each state machine's unittest case class when it runs (Any to mypy).
    machine: Any = contracts.schema_for(api).as_state_machine()
    name = f"Test{api.title()}LinkedSequences"
    tests = type(
        name,
        (machine.TestCase,),
        {
            "__doc__": APIS[api].vendor.suite_sequences,
            "__module__": __name__,
            "__qualname__": name,
            "settings": contracts.stateful_settings(api),
        },
    )
    return pytest.mark.conformance_api(api)(pytest.mark.mutates(tests))


for _api in APIS:
    _test = _operation_test(_api)
    globals()[_test.__name__] = _test
    _sequences = _linked_sequences(_api)
    globals()[_sequences.__name__] = _sequences

del _api, _test, _sequences
