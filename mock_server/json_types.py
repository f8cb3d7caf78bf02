"""The one name for a JSON object as the mock passes it around (a parsed body, a record)."""

from typing import Any

Json = dict[str, Any]
