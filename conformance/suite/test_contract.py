"""Property tests: Schemathesis generates requests for every operation of the contract and runs
every check on each response; linked sequences follow the contract's OpenAPI links."""

from __future__ import annotations

from typing import Any

import pytest
from schemathesis import Case

from conformance import contracts

marqeta = contracts.for_tests("marqeta")
balanced = contracts.for_tests("balanced")
# Hypothesis makes each state machine's unittest case class when it runs (Any to mypy). Not
# a module-level name itself: pytest would collect it as a second copy of the tests.
marqeta_machine: Any = marqeta.as_state_machine()
balanced_machine: Any = balanced.as_state_machine()


@pytest.mark.conformance_api("marqeta")
@marqeta.parametrize()
def test_marqeta_operation_conforms(case: Case[Any]) -> None:
    case.call_and_validate()


@pytest.mark.conformance_api("balanced")
@balanced.parametrize()
def test_balanced_operation_conforms(case: Case[Any]) -> None:
    case.call_and_validate()


@pytest.mark.mutates
@pytest.mark.conformance_api("marqeta")
class TestMarqetaLinkedSequences(marqeta_machine.TestCase):
    """create refund -> retrieve -> transition -> list (the contract's links)"""

    settings = contracts.stateful_settings()


@pytest.mark.mutates
@pytest.mark.conformance_api("balanced")
class TestBalancedLinkedSequences(balanced_machine.TestCase):
    """debit -> refund -> retrieve -> update -> list (the contract's links)"""

    settings = contracts.stateful_settings()
