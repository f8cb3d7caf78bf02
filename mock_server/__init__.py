"""Stateful, rule-enforcing mock server for payment refund APIs, driven by the OpenAPI contracts."""
