"""Conformance suite: check any implementation of the refund APIs against their contracts.

Run it with ``python -m conformance run --api marqeta --base-url URL --auth USER:PASS``, or from
pytest with ``pytest --pyargs conformance.suite --conformance-api marqeta ...``.
"""
