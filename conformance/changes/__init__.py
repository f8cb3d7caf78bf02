"""Contracts that move: what a contract change breaks (``refund-contract diff``) and where our
contract differs from the vendor's published document (``refund-contract drift``).

Needs only the base install (PyYAML, httpx, referencing): no server stack, no Schemathesis.
"""
