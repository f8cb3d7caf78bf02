"""``refund-contract diff`` as a user runs it: compatible rewrites are no change, 3.0 and 3.1
documents, references across files and revisions, the report formats, baselines, exit codes."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import subprocess
import threading
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from conformance.changes.cli import main
from conformance.changes.compare import diff
from conformance.changes.documents import Source
from conformance.changes.rules import Level
from tests.test_contract_diff_rules import STRING, _operation, api, run_diff

CONTRACTS = Path(__file__).resolve().parent.parent / "openapi"


def _body(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = _operation(document)["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return schema


def _moved_into_components(document: dict[str, Any]) -> None:
    document.setdefault("components", {})["schemas"] = {"Thing": _body(document)}
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Thing"
    }


def _reworded(document: dict[str, Any]) -> None:
    operation = _operation(document)
    operation["summary"] = "Make a thing, worded again"
    operation["description"] = "Longer words."
    operation["responses"]["201"]["description"] = "The thing, made."
    _body(document)["example"] = {"p": "an example"}
    document["paths"]["/things/{id}"]["post"] = dict(reversed(list(operation.items())))


def _split_into_all_of(document: dict[str, Any]) -> None:
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "allOf": [
            {"type": "object"},
            {"properties": {"p": STRING}},
        ]
    }


def _path_parameter_renamed(document: dict[str, Any]) -> None:
    item = document["paths"].pop("/things/{id}")
    item["post"]["parameters"][0]["name"] = "thing_token"
    document["paths"]["/things/{thing_token}"] = item


@pytest.mark.parametrize(
    "rewrite",
    [_moved_into_components, _reworded, _split_into_all_of, _path_parameter_renamed],
    ids=lambda rewrite: rewrite.__name__.strip("_"),
)
def test_a_rewrite_that_allows_the_same_is_no_change(tmp_path, rewrite):
    base = api()
    new = copy.deepcopy(base)
    rewrite(new)
    assert run_diff(tmp_path, base, new) == []
    # and back again: inlining a component is no change either
    assert run_diff(tmp_path, new, base) == []


def test_compatible_changes_are_the_changelog_without_an_error(tmp_path):
    base = api({"type": "integer", "maximum": 10}, subject="request-parameter")
    new = api({"type": "integer", "maximum": 100}, subject="request-parameter")
    _operation(new)["parameters"].append({"name": "expand", "in": "query", "schema": STRING})
    _operation(new)["responses"]["404"] = {"description": "no such thing"}
    new["paths"]["/things"] = {
        "get": {"operationId": "listThings", "responses": {"200": {"description": "ok"}}}
    }
    findings = run_diff(tmp_path, base, new)
    assert {finding.rule for finding in findings} == {
        "request-parameter-max-increased",
        "request-parameter-added",
        "response-error-status-added",
        "path-added",
    }
    assert {finding.level for finding in findings} == {Level.INFO}


def test_nullable_in_3_0_and_a_type_list_in_3_1_are_the_same(tmp_path):
    base = api({"type": "string", "nullable": True}, subject="response-property")
    new = api({"type": ["string", "null"]}, subject="response-property", openapi="3.1.0")
    assert run_diff(tmp_path, base, new) == []
    exclusive_3_0 = api(
        {"type": "integer", "maximum": 5, "exclusiveMaximum": True}, subject="request-parameter"
    )
    exclusive_3_1 = api(
        {"type": "integer", "exclusiveMaximum": 5}, subject="request-parameter", openapi="3.1.0"
    )
    assert run_diff(tmp_path, exclusive_3_0, exclusive_3_1) == []


def test_a_3_1_document_is_compared_by_its_type_lists(tmp_path):
    base = api({"type": ["string", "integer"]}, subject="request-property", openapi="3.1.0")
    new = api({"type": ["string"]}, subject="request-property", openapi="3.1.0")
    nullable = api(
        {"type": ["string", "integer", "null"]}, subject="request-property", openapi="3.1.0"
    )
    assert [f.rule for f in run_diff(tmp_path, base, new, check_version=False)] == [
        "request-property-type-narrowed"
    ]
    assert [f.rule for f in run_diff(tmp_path, base, nullable)] == [
        "request-property-became-nullable"
    ]


def test_a_shared_component_is_reported_for_each_operation_it_reaches(tmp_path):
    base = api()
    _moved_into_components(base)
    base["paths"]["/other"] = {"put": copy.deepcopy(_operation(base))}
    base["paths"]["/other"]["put"]["operationId"] = "replaceThing"
    base["paths"]["/other"]["put"]["parameters"] = []
    new = copy.deepcopy(base)
    new["components"]["schemas"]["Thing"]["properties"]["p"]["maxLength"] = 4
    findings = run_diff(tmp_path, base, new)
    assert {(f.rule, f.operation.id if f.operation else None) for f in findings} == {
        ("request-property-max-length-decreased", "makeThing"),
        ("request-property-max-length-decreased", "replaceThing"),
        ("version-not-bumped", None),
    }
    changed = next(f for f in findings if f.operation and f.operation.id == "makeThing")
    assert changed.location == "/components/schemas/Thing/properties/p/maxLength"
    assert "property 'p'" in changed.message


def test_a_recursive_schema_is_compared_without_end(tmp_path):
    def tree(leaf_max: int) -> dict[str, Any]:
        document = api()
        document["components"] = {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "maxLength": leaf_max},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                    },
                }
            }
        }
        _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/Node"
        }
        return document

    findings = run_diff(tmp_path, tree(10), tree(5), check_version=False)
    assert [(f.rule, f.message) for f in findings] == [
        (
            "request-property-max-length-decreased",
            "request body property 'name': maxLength lowered or added: 10 -> 5",
        )
    ]


def test_references_into_other_files_are_followed_and_named(tmp_path):
    (tmp_path / "schemas").mkdir()
    for side, limit in (("base", 10), ("new", 5)):
        folder = tmp_path / side
        (folder / "schemas").mkdir(parents=True)
        (folder / "schemas" / "thing.yaml").write_text(
            yaml.safe_dump(
                {
                    "Thing": {
                        "type": "object",
                        "properties": {"p": {"type": "string", "maxLength": limit}},
                    }
                }
            )
        )
        document = api()
        _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
            "$ref": "schemas/thing.yaml#/Thing"
        }
        (folder / "api.yaml").write_text(yaml.safe_dump(document))
    report = diff(
        Source.parse(str(tmp_path / "base" / "api.yaml")),
        Source.parse(str(tmp_path / "new" / "api.yaml")),
        check_version=False,
    )
    [finding] = report.findings
    assert finding.rule == "request-property-max-length-decreased"
    assert finding.file.endswith("new/schemas/thing.yaml")
    assert finding.location == "/Thing/properties/p/maxLength"
    lines = (tmp_path / "new" / "schemas" / "thing.yaml").read_text().splitlines()
    assert finding.line is not None and "maxLength: 5" in lines[finding.line - 1]


def _git(repository: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-C",
            str(repository),
            "-c",
            "user.name=kit",
            "-c",
            "user.email=kit@example.com",
            *args,
        ],
        check=True,
        capture_output=True,
    )


def test_a_git_revision_is_read_with_its_references_at_that_revision(tmp_path, monkeypatch, capsys):
    repository = tmp_path / "repo"
    (repository / "openapi").mkdir(parents=True)
    document = api()
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "shared.yaml#/Thing"
    }
    (repository / "openapi" / "api.yaml").write_text(yaml.safe_dump(document))
    shared: dict[str, Any] = {
        "Thing": {
            "type": "object",
            "properties": {"method": {"type": "string", "enum": ["ACH", "CHECK"]}},
        }
    }
    (repository / "openapi" / "shared.yaml").write_text(yaml.safe_dump(shared))
    _git(repository, "init", "-q")
    _git(repository, "add", ".")
    _git(repository, "commit", "-q", "-m", "v1")
    shared["Thing"]["properties"]["method"]["enum"] = ["ACH"]
    (repository / "openapi" / "shared.yaml").write_text(yaml.safe_dump(shared))
    monkeypatch.chdir(repository)

    code = main(["diff", "HEAD:openapi/api.yaml", "openapi/api.yaml", "--no-version-check"])

    out = capsys.readouterr().out
    assert code == 1
    assert (
        "error request-property-enum-value-removed makeThing (POST /things/{id}): request body "
        "property 'method': enum value removed: \"CHECK\""
    ) in out
    assert "at openapi/shared.yaml:" in out
    assert main(["diff", "HEAD:openapi/api.yaml", "HEAD:openapi/api.yaml"]) == 0


def test_our_contracts_are_read_whole_and_equal_themselves(capsys):
    for contract in sorted(CONTRACTS.glob("*.yaml")):
        assert main(["diff", str(contract), str(contract), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["summary"] == {"error": 0, "warning": 0, "info": 0}, contract.name


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def broken_pair(tmp_path) -> tuple[str, str]:
    """A pair with one error (an enum value removed from a request), one warning and one info."""
    base = api({"type": "string", "enum": ["ACH", "CHECK"]}, subject="request-property")
    new = api({"type": "string", "enum": ["ACH"]}, subject="request-property", version="1.0.1")
    _operation(new)["responses"]["202"] = {"description": "accepted"}  # warning
    _operation(new)["responses"]["409"] = {"description": "conflict"}  # info
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new))
    return str(tmp_path / "base.yaml"), str(tmp_path / "new.yaml")


def test_json_report_has_the_documented_fields(broken_pair, capsys):
    assert main(["diff", *broken_pair, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"command", "base", "new", "summary", "findings"}
    assert report["command"] == "diff"
    assert report["summary"] == {"error": 2, "warning": 1, "info": 1}
    first = report["findings"][0]
    assert set(first) == {"id", "level", "operation", "file", "side", "location", "line", "message"}
    removed = next(
        f for f in report["findings"] if f["id"] == "request-property-enum-value-removed"
    )
    assert removed["operation"] == {"id": "makeThing", "method": "POST", "path": "/things/{id}"}
    assert removed["side"] == "new" and removed["level"] == "error"
    assert removed["location"].endswith("/properties/p/enum")
    bumped = next(f for f in report["findings"] if f["id"] == "version-not-bumped")
    assert bumped["operation"] is None and bumped["location"] == "/info/version"


def test_fail_on_and_exit_codes(broken_pair, tmp_path, capsys):
    base, new = broken_pair
    assert main(["diff", base, base]) == 0
    assert main(["diff", base, new]) == 1
    compatible = yaml.safe_load(Path(base).read_text())
    _operation(compatible)["responses"]["202"] = {"description": "accepted"}
    (tmp_path / "warning.yaml").write_text(yaml.safe_dump(compatible))
    assert main(["diff", base, str(tmp_path / "warning.yaml")]) == 0
    assert main(["diff", base, str(tmp_path / "warning.yaml"), "--fail-on", "warning"]) == 1
    capsys.readouterr()
    assert main(["diff", base, str(tmp_path / "missing.yaml")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("refund-contract: error: ")
    (tmp_path / "not-openapi.yaml").write_text("just: text\n")
    assert main(["diff", base, str(tmp_path / "not-openapi.yaml")]) == 2
    assert "not an OpenAPI 3 document" in capsys.readouterr().err


def test_markdown_junit_and_github_formats(broken_pair, capsys):
    main(["diff", *broken_pair, "--format", "markdown"])
    markdown = capsys.readouterr().out
    assert markdown.startswith("### Contract changes")
    assert (
        "| error | `request-property-enum-value-removed` | makeThing (POST /things/{id}) |"
        in markdown
    )

    main(["diff", *broken_pair, "--format", "junit"])
    suite = ElementTree.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"makeThing (POST /things/{id})", "(document)"}
    failure = cases["makeThing (POST /things/{id})"].find("failure")
    assert failure is not None and failure.get("type") == "request-property-enum-value-removed"

    main(["diff", *broken_pair, "--format", "github"])
    lines = capsys.readouterr().out.splitlines()
    error = next(line for line in lines if "enum-value-removed" in line)
    assert error.startswith(f"::error file={broken_pair[1].replace(':', '%3A')},line=")
    assert "title=request-property-enum-value-removed::error request-property" in error
    assert any(line.startswith("::warning ") for line in lines)
    assert any(line.startswith("::notice ") for line in lines)


def test_a_baseline_accepts_known_findings_and_reports_fixed_ones(broken_pair, tmp_path, capsys):
    known = tmp_path / "known.yaml"
    assert (
        main(["diff", *broken_pair, "--write-baseline", str(known), "--reason", "agreed in PR 7"])
        == 0
    )
    written = yaml.safe_load(known.read_text())
    assert written["version"] == 1
    assert {entry["reason"] for entry in written["entries"]} == {"agreed in PR 7"}
    assert {
        "rule": "request-property-enum-value-removed",
        "operation": "makeThing",
        "location": "/paths/~1things~1{id}/post/requestBody/content/application~1json"
        "/schema/properties/p/enum",
        "reason": "agreed in PR 7",
    } in written["entries"]
    capsys.readouterr()
    assert main(["diff", *broken_pair, "--baseline", str(known), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"error": 0, "warning": 0, "info": 0}
    assert all(f["baselined"] == "agreed in PR 7" for f in report["findings"])

    base = broken_pair[0]
    assert main(["diff", base, base, "--baseline", str(known), "--format", "json"]) == 0
    fixed = json.loads(capsys.readouterr().out)["findings"]
    assert {f["id"] for f in fixed} == {"baseline-entry-fixed"}
    assert all(f["level"] == "warning" for f in fixed)
    # Fixed entries are reported to be cleaned up, and never fail the run.
    assert main(["diff", base, base, "--baseline", str(known), "--fail-on", "warning"]) == 0

    written["entries"][0]["reason"] = " "
    known.write_text(yaml.safe_dump(written))
    assert main(["diff", base, base, "--baseline", str(known)]) == 2
    assert "gives no reason" in capsys.readouterr().err


def test_a_breaking_change_needs_a_version_bump_unless_told(tmp_path, capsys):
    def pair(base_version: str, new_version: str) -> list[str]:
        base = api(
            {"type": "string", "enum": ["ACH", "CHECK"]},
            subject="request-property",
            version=base_version,
        )
        new = api(
            {"type": "string", "enum": ["ACH"]}, subject="request-property", version=new_version
        )
        (tmp_path / "b.yaml").write_text(yaml.safe_dump(base))
        (tmp_path / "n.yaml").write_text(yaml.safe_dump(new))
        return [str(tmp_path / "b.yaml"), str(tmp_path / "n.yaml")]

    def rules(*args: str) -> set[str]:
        main(["diff", *args, "--format", "json"])
        return {f["id"] for f in json.loads(capsys.readouterr().out)["findings"]}

    assert "version-not-bumped" in rules(*pair("3.0.0-mock.1", "3.0.0-mock.1"))
    assert "version-not-bumped" not in rules(*pair("3.0.0-mock.1", "3.0.0-mock.2"))
    assert "version-not-bumped" not in rules(*pair("3.0.0-mock.4", "3.1.0-mock.1"))
    assert "version-not-bumped" in rules(*pair("1.2.0", "1.3.0"))
    assert "version-not-bumped" not in rules(*pair("1.2.0", "2.0.0"))
    assert "version-not-bumped" not in rules(*pair("0.1.0", "0.1.0"))  # pre-1.0: exempt
    assert "version-not-bumped" not in rules(*pair("1.2.0", "1.3.0"), "--no-version-check")

    assert main(["diff", *pair("3.0.0-mock.1", "3.0.0-mock.2"), "--allow-announced"]) == 0
    assert main(["diff", *pair("3.0.0-mock.1", "3.0.0-mock.1"), "--allow-announced"]) == 1
    assert main(["diff", *pair("3.0.0-mock.1", "3.0.0-mock.2")]) == 1


def test_a_document_is_read_from_a_url_with_its_references(tmp_path, capsys):
    """An http(s) source: the document and the files its relative $refs name, over HTTP."""
    served = tmp_path / "served"
    (served / "schemas").mkdir(parents=True)
    (served / "schemas" / "thing.yaml").write_text(
        yaml.safe_dump({"Thing": {"type": "object", "properties": {"p": {"type": "integer"}}}})
    )
    document = api()
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "schemas/thing.yaml#/Thing"
    }
    (served / "api.yaml").write_text(yaml.safe_dump(document))
    local = api()  # the same operation with `p` a string: the type changed
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(local))

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api.yaml"
        code = main(["diff", url, str(tmp_path / "local.yaml"), "--format", "json"])
        missing = main(["diff", url.replace("api.yaml", "gone.yaml"), url])
    finally:
        server.shutdown()
        server.server_close()
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["base"] == url
    changed = next(f for f in report["findings"] if f["id"] == "request-property-type-changed")
    assert "integer -> string" in changed["message"]
    assert missing == 2


# What a first review found -----------------------------------------------------------------


def _with_components(schemas: dict[str, Any], body_ref: str, openapi: str = "3.0.3"):
    document = api(openapi=openapi)
    document["components"] = {"schemas": schemas}
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": f"#/components/schemas/{body_ref}"
    }
    return document


def test_mutually_recursive_schemas_are_compared_once_each(tmp_path):
    def graph(limit: int) -> dict[str, Any]:
        names = [f"Node{index}" for index in range(12)]
        schemas = {
            name: {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "maxLength": limit if name == "Node7" else 50},
                    **{f"to{other}": {"$ref": f"#/components/schemas/{other}"} for other in names},
                },
            }
            for name in names
        }
        return _with_components(schemas, "Node0")

    findings = run_diff(tmp_path, graph(50), graph(20), check_version=False)
    # Twelve schemas that each reach all the others: one finding, at its shortest path.
    assert [(f.rule, f.message) for f in findings] == [
        (
            "request-property-max-length-decreased",
            "request body property 'toNode7.label': maxLength lowered or added: 50 -> 20",
        )
    ]


def test_keywords_inside_all_of_parts_are_compared(tmp_path):
    def wrapped(limit: int, alternatives: int) -> dict[str, Any]:
        listing = {"type": "array", "items": {"type": "string", "maxLength": limit}}
        choice = {"oneOf": [{"type": "string"}, {"type": "integer"}][:alternatives]}
        schemas = {
            "Listing": listing,
            "Choice": choice,
            "Thing": {
                "type": "object",
                "properties": {
                    "tags": {
                        "allOf": [{"$ref": "#/components/schemas/Listing"}],
                        "description": "d",
                    },
                    "pick": {
                        "allOf": [{"$ref": "#/components/schemas/Choice"}],
                        "description": "d",
                    },
                },
            },
        }
        return _with_components(schemas, "Thing")

    assert run_diff(tmp_path, wrapped(10, 2), wrapped(10, 2)) == []
    rules = {f.rule for f in run_diff(tmp_path, wrapped(10, 2), wrapped(5, 1))}
    assert rules == {
        "request-property-max-length-decreased",
        "request-property-variant-removed",
        "version-not-bumped",
    }


def test_alternatives_are_matched_by_what_they_are(tmp_path):
    card = {"type": "object", "properties": {"card_token": STRING}, "required": ["card_token"]}
    bank = {"type": "object", "properties": {"iban": STRING}, "required": ["iban"]}
    inline = api({"oneOf": [card, bank]}, subject="request-property")
    reordered = api({"oneOf": [bank, card]}, subject="request-property")
    assert run_diff(tmp_path, inline, reordered) == []
    moved = _with_components(
        {
            "Card": card,
            "Bank": bank,
            "Thing": {
                "type": "object",
                "properties": {
                    "p": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Card"},
                            {"$ref": "#/components/schemas/Bank"},
                        ]
                    }
                },
            },
        },
        "Thing",
    )
    assert run_diff(tmp_path, inline, moved) == []
    renamed = json.loads(json.dumps(moved).replace("/Card", "/PaymentCard"))
    renamed["components"]["schemas"]["PaymentCard"] = renamed["components"]["schemas"].pop("Card")
    assert run_diff(tmp_path, moved, renamed) == []


def test_boolean_schemas_of_3_1(tmp_path):
    nothing = api(False, subject="request-property", openapi="3.1.0")
    integers = api({"type": "integer"}, subject="request-property", openapi="3.1.0")
    widened = run_diff(tmp_path, nothing, integers)
    assert [(f.rule, f.level) for f in widened] == [("request-property-type-widened", Level.INFO)]
    narrowed = run_diff(tmp_path, integers, nothing, check_version=False)
    assert [f.rule for f in narrowed] == ["request-property-type-narrowed"]


def test_versions_it_cannot_judge_announce_nothing(tmp_path, capsys):
    def pair(version: str) -> list[str]:
        for name, values in (("b.yaml", ["ACH", "CHECK"]), ("n.yaml", ["ACH"])):
            document = api(
                {"type": "string", "enum": values}, subject="request-property", version=version
            )
            (tmp_path / name).write_text(yaml.safe_dump(document))
        return [str(tmp_path / "b.yaml"), str(tmp_path / "n.yaml")]

    for version in ("latest", "2024-01-15"):
        assert main(["diff", *pair(version), "--allow-announced", "--format", "json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert "version-not-bumped" not in {f["id"] for f in report["findings"]}  # not judged


def test_unreadable_references_and_outputs_are_usage_errors(tmp_path, capsys):
    document = api()
    _operation(document)["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Missing"
    }
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "fine.yaml").write_text(yaml.safe_dump(api()))
    assert main(["diff", str(tmp_path / "fine.yaml"), str(tmp_path / "broken.yaml")]) == 2
    error = capsys.readouterr().err
    assert "'#/components/schemas/Missing' points at nothing" in error
    assert error.count("\n") == 1 and len(error) < 300
    fine = str(tmp_path / "fine.yaml")
    assert main(["diff", fine, fine, "--output", str(tmp_path / "no" / "such" / "dir")]) == 2
    assert capsys.readouterr().err.startswith("refund-contract: error: ")


def test_rewriting_a_baseline_keeps_its_reasons(broken_pair, tmp_path):
    known = tmp_path / "known.yaml"
    main(["diff", *broken_pair, "--write-baseline", str(known), "--reason", "agreed in PR 7"])
    main(["diff", *broken_pair, "--baseline", str(known), "--write-baseline", str(known)])
    reasons = {entry["reason"] for entry in yaml.safe_load(known.read_text())["entries"]}
    assert reasons == {"agreed in PR 7"}


def test_extensions_are_not_statuses_and_a_lost_body_breaks(tmp_path):
    base = api()
    new = copy.deepcopy(base)
    _operation(new)["responses"]["x-codegen"] = {"skip": True}
    assert run_diff(tmp_path, base, new) == []
    del _operation(new)["responses"]["201"]["content"]
    [lost, _] = run_diff(tmp_path, base, new)
    assert (lost.rule, lost.level) == ("response-media-type-removed", Level.ERROR)


def test_github_annotations_of_what_new_lost_point_into_new(tmp_path, capsys):
    base = api(
        {"type": "object", "properties": {"a": STRING, "b": STRING}}, subject="response-property"
    )
    new = api({"type": "object", "properties": {"a": STRING}}, subject="response-property")
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new))
    main(["diff", str(tmp_path / "base.yaml"), str(tmp_path / "new.yaml"), "--format", "github"])
    annotation = next(
        line for line in capsys.readouterr().out.splitlines() if "property-removed" in line
    )
    new_file = str(tmp_path / "new.yaml").replace(":", "%3A")
    assert annotation.startswith(f"::error file={new_file},line=")
