"""A third vendor API, registered as a team's own package would register it (an entry point in
its metadata), is served by the mock, managed by the control API and checked by the conformance
suite, with nothing edited outside its package (``tests/plugin_vendor/refund_kit_tipjar``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mock_server.http_clients import tls_context
from tests.support import ROOT

PLUGIN = Path(__file__).parent / "plugin_vendor"
AUTH = ("tipper", "tip-pass")  # the tip jar's demo credentials (its vendor.py)


@pytest.fixture
def tipjar_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tip jar package importable, and its entry point installed, for the processes the
    test starts (this one has read the registry already)."""
    dist = tmp_path / "site" / "refund_kit_tipjar-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: refund-kit-tipjar\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[refund_contract_kit.vendors]\ntipjar = refund_kit_tipjar.vendor:TIPJAR\n"
    )
    paths = [str(dist.parent), str(PLUGIN), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path for path in paths if path))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_mock_serves_the_third_vendor_and_enforces_its_rule(
    tipjar_installed, start_mock, tmp_path, store
):
    # Responses validated against its contract on the way out. On SQLite the store sends its
    # writes with the commit: the jar's add asks whether a key is in use at once all the same.
    _, root = start_mock(
        *(["--store", f"sqlite:{tmp_path / 'tips.db'}"] if store == "sqlite" else [])
    )
    tips = f"{root}/tipjar/tips"
    made = httpx.post(tips, json={"reference": "r-1", "amount": 250}, auth=AUTH)
    assert made.status_code == 201, made.text
    assert httpx.get(f"{tips}/{made.json()['id']}", auth=AUTH).json() == made.json()
    # Its one rule, and the kit's own refusals, in its own error shape.
    again = httpx.post(tips, json={"reference": "r-1", "amount": 5}, auth=AUTH)
    assert (again.status_code, again.json()["error_code"]) == (409, "409001")
    malformed = httpx.post(tips, json={"reference": "r-2"}, auth=AUTH)
    assert (malformed.status_code, malformed.json()["error_code"]) == (400, "400001")
    assert httpx.get(f"{tips}/nothing", auth=AUTH).json()["error_code"] == "404002"
    assert httpx.get(f"{tips}/nothing", auth=("tipper", "wrong")).status_code == 401


def test_the_control_api_seeds_counts_and_isolates_its_state(tipjar_installed, start_mock):
    _, root = start_mock()
    session = {"X-Mock-Session": "tips-only-here"}
    with httpx.Client(
        verify=tls_context(), base_url=f"{root}/__mock__", headers=session
    ) as control:
        seed = {"tipjar": {"tips": [{"id": "TIPseeded", "reference": "seeded", "amount": 1}]}}
        seeded = control.post("/seed", json=seed)
        assert seeded.status_code == 201, seeded.text
        assert seeded.json()["tipjar"]["tips"][0]["id"] == "TIPseeded"
        assert control.post("/seed", json=seed).status_code == 409  # all or nothing, as ever
        jar = control.get("/overview").json()["tipjar"]["jars"][0]
        assert (jar["tip_total"], jar["tips"][0]["reference"]) == (1, "seeded")
        tip = f"{root}/tipjar/tips/TIPseeded"
        assert httpx.get(tip, auth=AUTH, headers=session).status_code == 200
        assert httpx.get(tip, auth=AUTH).status_code == 404  # the default state has none
        reset = control.post("/reset", json={})
        assert reset.status_code == 200, reset.text
        assert reset.json()["tipjar_tips"] == 0


def test_the_conformance_suite_checks_the_third_vendor(tipjar_installed, start_mock):
    _, root = start_mock()
    command = [sys.executable, "-m", "conformance", "run", "--api", "tipjar"]
    command += ["--base-url", f"{root}/tipjar", "--auth", "tipper:tip-pass", "--max-examples", "5"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS  POST /tips" in run.stdout
    assert "PASS  leave a tip -> read it" in run.stdout  # the contract's link, followed
    assert "CONFORMS: 3 passed, 0 failed" in run.stdout
    # Its contract has no list to read: a made-up tip's 404 tells the API from a wrong URL.
    command[command.index(f"{root}/tipjar")] = f"{root}/tips"
    wrong = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert f"did you mean {root}/tipjar?" in wrong.stdout + wrong.stderr


def test_an_entry_point_that_is_not_a_vendor_of_its_name_is_refused(monkeypatch):
    from importlib.metadata import EntryPoint

    from mock_server import registry

    wrong = EntryPoint("tipjar", "mock_server.marqeta.vendor:MARQETA", registry.PLUG_IN_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [wrong])
    with pytest.raises(TypeError, match="is not a Vendor named 'tipjar'"):
        registry.plugged_in()


def test_a_plugged_in_vendor_cannot_take_another_ones_name_or_options():
    from dataclasses import replace

    from mock_server import registry

    marqeta = registry.vendor("marqeta")
    with pytest.raises(ValueError, match="vendors marqeta and marqeta share the name marqeta"):
        registry.distinct((marqeta, marqeta))
    options = replace(marqeta, name="other")
    with pytest.raises(ValueError, match="vendors marqeta and other share the option --auth"):
        registry.distinct((marqeta, options))
