"""The tip jar's response checks beyond the schema: none (the schema says it all)."""

CHECKS: list[object] = []
