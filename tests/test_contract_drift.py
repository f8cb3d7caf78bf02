"""``refund-contract drift``: our contract against a vendor's published document.

The vendor's documents here are our own writing, shaped like Marqeta's published one (its
server path in front, other parameter names, operations we do not model); we commit no
vendor's file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.changes.cli import main

CONTRACTS = Path(__file__).resolve().parent.parent / "openapi"


def _marqeta() -> dict[str, Any]:
    contract: dict[str, Any] = yaml.safe_load((CONTRACTS / "marqeta-credit.yaml").read_text())
    return contract


def vendor_document() -> dict[str, Any]:
    """A vendor document for the refund operations of our Marqeta contract, written as a vendor
    publishes it: paths under the server's `/v3`, another path parameter name, and an
    operation we do not model."""
    ours = _marqeta()
    paths = {}
    for path, item in ours["paths"].items():
        if path.startswith("/accounts/{account_token}/refunds"):
            renamed = path.replace("{account_token}", "{token}")
            item = copy.deepcopy(item)
            for parameter in item.get("parameters", []):
                if parameter.get("$ref", "").endswith("/AccountToken"):
                    parameter.clear()
                    parameter.update(
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    )
            paths[f"/v3{renamed}"] = item
    paths["/v3/accounts/{token}/statements"] = {
        "get": {"operationId": "listStatements", "responses": {"200": {"description": "ok"}}}
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Vendor", "version": "3.0.39"},
        "servers": [{"url": "https://sandbox.vendor.example"}],
        "paths": paths,
        "components": ours["components"],
        "security": ours["security"],
    }


def drift_args(tmp_path: Path, vendor: dict[str, Any], form: str) -> list[str]:
    """`refund-contract drift` of our Marqeta contract against ``vendor``, written to a file."""
    (tmp_path / "vendor.yaml").write_text(yaml.safe_dump(vendor))
    vendor_spec = str(tmp_path / "vendor.yaml")
    return ["drift", "--api", "marqeta", "--vendor-spec", vendor_spec, "--format", form]


def _run(
    tmp_path: Path,
    vendor: dict[str, Any],
    *extra: str,
    ours: dict[str, Any] | None = None,
    capsys: Any,
) -> tuple[int, dict[str, Any]]:
    args = [*drift_args(tmp_path, vendor, "json"), *extra]
    if ours is not None:
        (tmp_path / "ours.yaml").write_text(yaml.safe_dump(ours))
        args += ["--contract", str(tmp_path / "ours.yaml")]
    code = main(args)
    return code, json.loads(capsys.readouterr().out)


def test_no_drift_from_a_document_that_says_what_we_say(tmp_path, capsys):
    code, report = _run(tmp_path, vendor_document(), capsys=capsys)
    assert report["command"] == "drift"
    assert report["findings"] == []
    assert code == 0


def _refunds(document: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = document["paths"]["/v3/accounts/{token}/refunds"]
    return item


def test_what_the_vendor_accepts_and_we_refuse_is_an_error(tmp_path, capsys):
    vendor = vendor_document()
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    _refunds(vendor)["get"]["parameters"].append(
        {"name": "expand", "in": "query", "schema": {"type": "string"}}
    )
    code, report = _run(tmp_path, vendor, capsys=capsys)
    errors = {(f["id"], f["operation"]["id"]) for f in report["findings"] if f["level"] == "error"}
    assert ("request-property-enum-value-removed", "createRefund") in errors
    assert ("request-parameter-removed", "listRefunds") in errors
    method = next(f for f in report["findings"] if f["id"] == "request-property-enum-value-removed")
    assert method["status"] == "drift" and method["direction"] == "vendor-only"
    assert '"WIRE"' in method["message"]
    # Placed in our contract, where the difference is to be fixed or explained.
    assert method["file"].endswith("marqeta-credit.yaml")
    assert method["location"] == "/components/schemas/RefundMethod/enum"
    assert code == 1


def test_what_the_vendor_returns_and_we_lack_is_a_warning_and_what_only_we_say_info(
    tmp_path, capsys
):
    vendor = vendor_document()
    vendor["components"]["schemas"]["AccountRefundResponse"]["properties"]["settlement_date"] = {
        "type": "string"
    }
    _refunds(vendor)["post"]["responses"].pop("409", None)
    code, report = _run(tmp_path, vendor, capsys=capsys)
    levels = {(f["id"], f["level"], f["direction"]) for f in report["findings"]}
    assert ("response-property-removed", "warning", "vendor-only") in levels
    assert ("response-error-status-added", "info", "ours-only") in levels
    assert code == 0  # warnings fail only with --fail-on warning
    assert _run(tmp_path, vendor, "--fail-on", "warning", capsys=capsys)[0] == 1


def test_a_difference_our_contract_explains_is_explained_and_never_fails(tmp_path, capsys):
    vendor = vendor_document()
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    ours = _marqeta()
    ours["components"]["schemas"]["RefundMethod"]["x-mock-assumption"] = "WIRE is not modelled."
    code, report = _run(tmp_path, vendor, "--fail-on", "warning", ours=ours, capsys=capsys)
    assert {f["status"] for f in report["findings"]} == {"explained"}
    assert {f["id"] for f in report["findings"]} == {
        "request-property-enum-value-removed",  # the vendor accepts WIRE
        "response-property-enum-value-removed",  # and returns it
    }
    assert report["summary"] == {"error": 0, "warning": 0, "info": 0}
    assert code == 0


def test_an_assumption_explains_only_the_element_it_stands_on(tmp_path, capsys):
    vendor = vendor_document()
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    ours = _marqeta()
    ours["components"]["schemas"]["RefundStatus"]["x-mock-assumption"] = "About statuses only."
    code, report = _run(tmp_path, vendor, ours=ours, capsys=capsys)
    assert {f["status"] for f in report["findings"]} == {"drift"}
    assert code == 1


@pytest.mark.parametrize("named", [False, True])
def test_a_note_on_an_enclosing_element_explains_only_what_it_names(tmp_path, capsys, named):
    """A vendor property we lack, and a value of a property's own enum we refuse: a note on
    the schema around them explains them only when it names them (in backquotes); a note about
    something else beside them explains nothing."""
    vendor = vendor_document()
    theirs = vendor["components"]["schemas"]["AccountRefundResponse"]["properties"]
    theirs["settlement_date"] = {"type": "string"}
    theirs["channel"] = {"type": "string", "enum": ["WEB", "BROKERAGE"]}
    ours = _marqeta()
    refund = ours["components"]["schemas"]["AccountRefundResponse"]
    refund["properties"]["channel"] = {"type": "string", "enum": ["WEB"]}
    about = "`settlement_date` is never sent; `BROKERAGE` is not modelled." if named else ""
    refund["x-mock-assumption"] = f"Amounts are exact. {about}"
    code, report = _run(tmp_path, vendor, "--fail-on", "warning", ours=ours, capsys=capsys)
    found = {(f["id"], f["status"]) for f in report["findings"]}
    status = "explained" if named else "drift"
    assert ("response-property-removed", status) in found  # settlement_date, on its schema
    assert ("response-property-enum-value-removed", status) in found  # BROKERAGE, on `channel`
    assert code == (0 if named else 1)


def test_a_drift_baseline_accepts_known_drift_and_reports_what_was_fixed(tmp_path, capsys):
    vendor = vendor_document()
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    known = tmp_path / "known-drift.yaml"
    args = drift_args(tmp_path, vendor, "json")
    assert main(args) == 1
    main([*args, "--write-baseline", str(known), "--reason", "WIRE comes in Q3"])
    capsys.readouterr()
    assert main([*args, "--baseline", str(known)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {f["baselined"] for f in report["findings"]} == {"WIRE comes in Q3"}
    same = drift_args(tmp_path, vendor_document(), "json")  # the vendor dropped WIRE again
    assert main([*same, "--baseline", str(known), "--fail-on", "warning"]) == 0
    fixed = json.loads(capsys.readouterr().out)["findings"]
    assert {f["id"] for f in fixed} == {"baseline-entry-fixed"}


def test_an_unknown_api_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "vendor.yaml").write_text(yaml.safe_dump(vendor_document()))
    assert main(["drift", "--api", "stripe", "--vendor-spec", str(tmp_path / "vendor.yaml")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("refund-contract: error: ") and "'stripe'" in error


@pytest.mark.parametrize("form", ["text", "markdown", "junit", "github"])
def test_drift_reports_say_status_and_direction(tmp_path, capsys, form):
    vendor = vendor_document()
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    main(drift_args(tmp_path, vendor, form))
    assert "drift, vendor-only" in capsys.readouterr().out


def test_a_document_that_shares_no_operation_is_refused(tmp_path, capsys):
    (tmp_path / "vendor.yaml").write_text(yaml.safe_dump(vendor_document()))
    balanced = ["drift", "--api", "balanced", "--vendor-spec", str(tmp_path / "vendor.yaml")]
    assert main(balanced) == 2
    assert "no operation of" in capsys.readouterr().err
    assert main(["drift", "--vendor-spec", str(tmp_path / "vendor.yaml")]) == 2
    assert "--api NAME or --contract" in capsys.readouterr().err
