"""Marqeta Credit refunds: contract-driven rules, service and HTTP handlers."""
