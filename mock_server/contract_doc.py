"""Render a contract's endpoints and ``x-mock-assumption`` notes as Markdown for the docs.

``python -m mock_server.contract_doc --write docs/contracts.md`` (``make docs``) refreshes the
generated blocks; a test fails when that page and the contracts disagree.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from mock_server.registry import VENDORS
from mock_server.spec import Contract, load_contract

BEGIN = "<!-- generated from openapi/{name}: make docs -->"
END = "<!-- end of generated block -->"
METHODS = ("get", "post", "put", "patch", "delete")
DOCUMENTED = tuple(vendor.contract_file for vendor in VENDORS)


def render(filename: str) -> str:
    contract = load_contract(filename)
    lines = [BEGIN.format(name=filename), ""]
    servers = ", ".join(f"`{s['url']}`" for s in contract["servers"])
    lines += [f"Served under {servers}.", "", "| Method | Path | operationId | Summary |"]
    lines.append("| --- | --- | --- | --- |")
    for path, method, operation in _operations(contract):
        summary = operation.get("summary", "")
        lines.append(f"| {method.upper()} | `{path}` | `{operation['operationId']}` | {summary} |")
    lines += ["", *_error_table(contract)]
    lines += ["", "Where the vendor documents are silent, the contract chooses:", ""]
    for where, note in _assumptions(contract):
        lines.append(f"- **{where}**: {_one_line(note)}")
    lines += ["", END]
    return "\n".join(lines)


def _error_table(contract: Contract) -> list[str]:
    if "x-mock-error-codes" in contract:
        codes = contract["x-mock-error-codes"]
        return [
            "Error codes (`x-mock-error-codes`; the first three digits are the HTTP status):",
            "",
            "| Error | `error_code` |",
            "| --- | --- |",
            *(f"| {kind} | `{code}` |" for kind, code in codes.items()),
        ]
    categories = contract["x-mock-error-categories"]
    return [
        "Error bodies (`x-mock-error-categories`):",
        "",
        "| Error | HTTP status | `category_code` | `category_type` |",
        "| --- | --- | --- | --- |",
        *(
            f"| {kind} | {c['status_code']} | `{c['category_code']}` | `{c['category_type']}` |"
            for kind, c in categories.items()
        ),
    ]


def _operations(contract: Contract) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in contract["paths"].items()
        for method in METHODS
        if method in item
    ]


def _assumptions(contract: Contract) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if "x-mock-assumption" in contract["info"]:
        found.append(("Money and time", contract["info"]["x-mock-assumption"]))
    for _, _, operation in _operations(contract):
        if "x-mock-assumption" in operation:
            found.append((f"`{operation['operationId']}`", operation["x-mock-assumption"]))
        for parameter in operation.get("parameters", []):
            ref = parameter.get("$ref", "")
            found.extend(_component_note(contract, "parameters", ref, seen=found))
    for section in ("securitySchemes", "schemas"):
        for name, component in contract["components"].get(section, {}).items():
            if "x-mock-assumption" in component:
                found.append((f"`{name}`", component["x-mock-assumption"]))
    return found


def _component_note(
    contract: Contract, section: str, ref: str, seen: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    if not ref:
        return []
    name = ref.rsplit("/", 1)[-1]
    component = contract["components"][section][name]
    label = f"`{component['name']}` ({name})"
    if "x-mock-assumption" not in component or any(where == label for where, _ in seen):
        return []
    return [(label, component["x-mock-assumption"])]


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def replace_block(document: str, filename: str) -> str:
    begin = BEGIN.format(name=filename)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(document):
        raise ValueError(f"no generated block for {filename} in the document")
    return pattern.sub(lambda _: render(filename), document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="refresh the generated blocks of this file")
    parser.add_argument("contracts", nargs="*", default=list(DOCUMENTED))
    args = parser.parse_args(argv)
    if args.write is None:
        print("\n\n".join(render(name) for name in args.contracts))
        return 0
    document = args.write.read_text(encoding="utf-8")
    for name in args.contracts:
        document = replace_block(document, name)
    args.write.write_text(document, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
