"""The conformance tests, collected by ``pytest --pyargs conformance.suite``."""
