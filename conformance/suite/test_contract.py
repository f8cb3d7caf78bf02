"""Property tests: Schemathesis generates requests for every operation of the contract and runs
every check on each response; linked sequences follow the contract's OpenAPI links."""

from __future__ import annotations

import pytest

from conformance import contracts

marqeta = contracts.for_tests("marqeta")
balanced = contracts.for_tests("balanced")


@pytest.mark.conformance_api("marqeta")
@marqeta.parametrize()
def test_marqeta_operation_conforms(case):
    case.call_and_validate()


@pytest.mark.conformance_api("balanced")
@balanced.parametrize()
def test_balanced_operation_conforms(case):
    case.call_and_validate()


class _MarqetaSequences(marqeta.as_state_machine()):  # type: ignore[misc]
    pass


class _BalancedSequences(balanced.as_state_machine()):  # type: ignore[misc]
    pass


@pytest.mark.mutates
@pytest.mark.conformance_api("marqeta")
class TestMarqetaLinkedSequences(_MarqetaSequences.TestCase):  # type: ignore[name-defined]
    """create refund -> retrieve -> transition -> list (the contract's links)"""

    settings = contracts.stateful_settings()


@pytest.mark.mutates
@pytest.mark.conformance_api("balanced")
class TestBalancedLinkedSequences(_BalancedSequences.TestCase):  # type: ignore[name-defined]
    """debit -> refund -> retrieve -> update -> list (the contract's links)"""

    settings = contracts.stateful_settings()
