"""The conformance suite finds planted defects, and never cries wolf on the correct mock."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from xml.etree import ElementTree

import pytest
import yaml

from mock_server.app import MockConfig
from tests.defects import (
    UNRECOGNISED_METHODS,
    Defect,
    each_defect,
    proxy,
    reads_run_of,
    run_with_defect,
)
from tests.defects import gateway_501_for_unknown_methods as gateway_501
from tests.support import ROOT, ConformanceRun, run_conformance, serve, serve_app


@pytest.mark.parametrize("defect", each_defect())
def test_each_planted_defect_is_reported(defect: Defect, planted: Callable[[str], ConformanceRun]):
    result = planted(defect.name).result
    report = result.stdout
    assert result.returncode == 1, report[-3000:] + result.stderr[-2000:]
    assert defect.detected_as in report, report[-4000:]
    for line in defect.also_shows:
        assert line in report, report[-4000:]
    assert "Value:" not in report  # the expectation, not Schemathesis' dump of the whole body
    assert "reproduce: curl" in report
    assert "demo_access_token" not in report  # credentials are redacted


# Verdicts CI can act on --------------------------------------------------------------------


@pytest.fixture(scope="module")
def correct_mock():
    with serve(MockConfig()) as upstream:
        yield upstream.root


def test_a_gateway_answering_501_to_methods_it_does_not_recognise_conforms(correct_mock):
    app, log = proxy(correct_mock, Defect("501", "marqeta", "", on_response=gateway_501))
    with serve_app(app) as root:
        result = run_conformance("marqeta", root, "--seed", "1")
    assert result.returncode == 0, result.stdout[-4000:]
    assert "CONFORMS" in result.stdout
    assert set(log.methods) & set(UNRECOGNISED_METHODS), "no such method was tried"


def test_wrong_credentials_are_named_as_such_before_any_case(correct_mock):
    command = [sys.executable, "-m", "conformance", "run", "--api", "marqeta"]
    command += ["--base-url", correct_mock + "/v3", "--auth", "wrong:creds"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "credentials refused" in line and "creds" not in line  # the password stays out
    assert result.stdout == ""  # no generated case ran


def test_a_wrong_base_url_is_named_with_the_likely_one(correct_mock):
    result = run_conformance("marqeta", correct_mock + "/wrong")  # .../wrong/v3: nothing there
    assert result.returncode == 2
    assert "nothing of the Marqeta Credit" in result.stderr
    assert f"did you mean {correct_mock}/v3?" in result.stderr
    assert result.stdout == ""


@reads_run_of("500 on valid input")
def test_every_violation_says_what_was_expected_even_a_bare_server_error(planted):
    """Schemathesis's server error carries no message: the report still says what was
    expected, beside what came back and the curl line."""
    report = planted("500 on valid input").result.stdout
    block = report[report.index("Violations (") :].split("\n\n")[0]
    numbered = re.split(r"\n  \d+\. ", block)[1:]
    assert numbered, block
    for violation in numbered:
        assert "expected: " in violation and "got: " in violation, violation
        assert "reproduce: curl" in violation, violation
    assert "expected: no server error" in block, block


def test_a_time_limited_run_is_inconclusive_unless_skips_are_accepted(correct_mock):
    limited = run_conformance("marqeta", correct_mock, "--time-limit", "0.01")
    assert limited.returncode == 3, limited.stdout[-3000:]
    assert "INCONCLUSIVE" in limited.stdout and "time limit of 0.01 s reached" in limited.stdout
    # Accepting skips does not make a run in which nothing ran a pass.
    nothing_ran = run_conformance("marqeta", correct_mock, "--time-limit", "0.01", "--allow-skips")
    assert nothing_ran.returncode == 3


@reads_run_of("fee not reversed")
def test_a_behaviour_violation_says_what_was_expected_and_what_came_back(planted):
    """A rule the target broke reads as a sentence a reviewer can act on: the rule expected,
    what came back with its status and body, and the curl line; JUnit says the same, not the
    test function's name."""
    run = planted("fee not reversed")
    report = run.result.stdout
    block = report[report.index("Violations (") :]
    assert "expected: Each refund reverses its share of the debit's fee" in block, block
    assert re.search(r"got: .*\n\s+response 20\d: \{", block), block
    assert "reproduce: curl" in block
    failures = list(ElementTree.parse(run.junit).getroot().iter("failure"))
    assert failures
    for failure in failures:
        message = failure.get("message", "")
        assert message.startswith("expected Each refund reverses its share"), message
        assert failure.get("type", "").startswith("test_")  # the rule's stable name, kept
        assert "response 20" in (failure.text or "")


def test_a_baseline_lets_ci_fail_only_on_new_findings(tmp_path, correct_mock):
    """Run 1 writes what it found as known; run 2, with that baseline, conforms and still
    shows them; a target without the defect conforms and names the entries to remove."""
    defect = next(d.values[0] for d in each_defect() if d.values[0].name == "fee not reversed")
    known = tmp_path / "known.yaml"
    first = run_with_defect(defect, tmp_path / "first.xml", "--write-baseline", str(known))
    assert first.result.returncode == 1, first.result.stdout[-3000:]
    entries = yaml.safe_load(known.read_text())["entries"]
    assert [entry["rule"] for entry in entries] == [
        "test_fee_reversal_is_proportional_and_adds_up_to_the_debit_fee"
    ]
    assert entries[0]["operation"].startswith("test_fee_reversal")  # the test, not its words
    entries[0]["reason"] = "the sandbox reverses fees nightly (ticket 42)"
    known.write_text(yaml.safe_dump({"version": 1, "entries": entries}))

    second = run_with_defect(defect, tmp_path / "second.xml", "--baseline", str(known))
    report = second.result.stdout
    assert second.result.returncode == 0, report[-3000:]
    assert "known:    the sandbox reverses fees nightly (ticket 42) (--baseline)" in report
    assert "CONFORMS: " in report and "1 failed with known findings only" in report
    assert not list(ElementTree.parse(second.junit).getroot().iter("failure"))

    fixed = run_conformance("balanced", correct_mock, "--seed", "1", "--baseline", str(known))
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert "Baseline entries found no more (1): remove them" in fixed.stdout
    known.write_text(yaml.safe_dump({"version": 1, "entries": [{**entries[0], "reason": ""}]}))
    refused = run_conformance("balanced", correct_mock, "--baseline", str(known))
    assert refused.returncode == 2 and "gives no reason" in refused.stderr
