"""Balanced Payments v1 refunds: contract-driven rules, service and HTTP handlers."""
