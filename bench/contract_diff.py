"""How long ``refund-contract diff`` takes on a document the size of Marqeta's full published one
(yaml/CoreAPI.yaml: ~54k lines, 1.9 MB), compared with itself after one change.

Our machines reach no vendor site, so the document is generated: operations over shared
component schemas that reference each other, as a vendor's document is built. Run alone with
``python -m bench.contract_diff`` (``--document FILE`` times a real document instead).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

PATHS = 160
SCHEMAS = 440
PROPERTIES = 18
# Vendor documents describe every field at some length: most of their bytes are prose.
_WORDS = "What this field holds, when it is set, and what the platform does with it (one line)."


def _schema(index: int) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for number in range(PROPERTIES):
        kind = number % 6
        name = f"field_{number}"
        if kind == 0:
            properties[name] = {
                "type": "string",
                "maxLength": 255,
                "description": f"Field {number}.",
            }
        elif kind == 1:
            properties[name] = {"type": "integer", "minimum": 0, "description": "A count."}
        elif kind == 2:
            properties[name] = {"type": "string", "enum": ["ACTIVE", "SUSPENDED", "CLOSED"]}
        elif kind == 3:
            properties[name] = {"type": "string", "format": "date-time"}
        elif kind == 4:  # references that make cycles, as vendor documents have
            properties[name] = {
                "$ref": f"#/components/schemas/Schema{(index * 7 + number) % SCHEMAS}"
            }
        else:
            properties[name] = {"type": "array", "items": {"type": "string"}, "maxItems": 100}
        if "$ref" not in properties[name]:
            properties[name]["description"] = _WORDS
    return {
        "type": "object",
        "description": f"Resource {index}, as a vendor describes it at some length.",
        "required": ["field_0", "field_1"],
        "properties": properties,
    }


def _operation(index: int, method: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/Schema{(index * 3) % SCHEMAS}"}
    operation: dict[str, Any] = {
        "operationId": f"{method}Resource{index}",
        "summary": f"{method} resource {index}",
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "count", "in": "query", "schema": {"type": "integer", "maximum": 100}},
            {"name": "start_index", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "400": {
                "description": "Bad request",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
            "404": {
                "description": "Not found",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if method == "post":
        operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    return operation


def document() -> dict[str, Any]:
    schemas = {f"Schema{index}": _schema(index) for index in range(SCHEMAS)}
    schemas["Error"] = {
        "type": "object",
        "properties": {"error_code": {"type": "string"}, "error_message": {"type": "string"}},
    }
    paths = {
        f"/resources{index}/{{token}}": {
            "get": _operation(index, "get"),
            "post": _operation(index, "post"),
        }
        for index in range(PATHS)
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Generated vendor document", "version": "3.0.39"},
        "servers": [{"url": "/v3"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def timed_diff(base: Path, new: Path) -> tuple[float, str]:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "conformance.changes", "diff", str(base), str(new)],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if run.returncode not in (0, 1):
        raise SystemExit(f"refund-contract diff failed:\n{run.stderr}")
    return seconds, run.stdout.strip().splitlines()[-1]


def diff_seconds(given: Path | None = None) -> dict[str, object]:
    """The whole command (reading both documents included) on a document against itself with
    one enum value removed from a schema every operation reaches (or, for a given document,
    against itself unchanged)."""
    with tempfile.TemporaryDirectory() as work:
        base, new = Path(work) / "base.yaml", Path(work) / "new.yaml"
        if given is not None:
            text = given.read_text()
            base.write_text(text)
            new.write_text(text)
        else:
            generated = document()
            text = yaml.safe_dump(generated, sort_keys=False)
            base.write_text(text)
            generated["components"]["schemas"]["Schema0"]["properties"]["field_2"]["enum"].pop()
            new.write_text(yaml.safe_dump(generated, sort_keys=False))
        seconds, summary = timed_diff(base, new)
        return {
            "document_lines": text.count("\n"),
            "document_mb": round(len(text.encode()) / 1e6, 2),
            "seconds": round(seconds, 2),
            "summary": summary,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--document", type=Path, help="time this document against itself")
    args = parser.parse_args()
    print(diff_seconds(args.document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
