"""The vendors' own client libraries work against the mock: what an app built on them sends is
accepted as the vendor accepted it. Balanced's Node client (`balanced-official` 0.3.3, which
`make` installs with npm into .node/) is driven through each of its refund functions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from tests.support import ROOT, serve

NODE_CLIENT = ROOT / ".node" / "node_modules" / "balanced-official"
SCRIPT = Path(__file__).parent / "clients" / "balanced_refunds.js"
MARKETPLACE = "/v1/marketplaces/TEST-MPdemo"


def run_node_client(root: str, results: Path) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is not installed: the Balanced client test needs Node.js"
    assert (NODE_CLIENT / "package.json").exists(), (
        "Balanced's Node client is missing: make test installs it"
        " (npm install --prefix .node balanced-official@0.3.3)"
    )
    address = urlsplit(root)
    debug = {
        "BALANCED_DEBUG": "1",  # the client's own switches for another host, over HTTP
        "BALANCED_DEBUG_NO_HTTPS": "1",
        "BALANCED_DEBUG_HOST": address.hostname or "",
        "BALANCED_DEBUG_PORT": str(address.port),
    }
    ran = subprocess.run(
        [node, str(SCRIPT), str(NODE_CLIENT), DEMO_BALANCED_SECRET, MARKETPLACE, str(results)],
        env={**os.environ, **debug},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return {call["name"]: call for call in json.loads(results.read_text())}


def test_balanced_node_client_refunds_a_debit_by_each_of_its_functions(tmp_path: Path):
    with serve(MockConfig()) as mock:
        escrow_before = marketplace(mock.root)["in_escrow"]
        calls = run_node_client(mock.root, tmp_path / "calls.json")
        assert "script" not in calls, calls["script"]

        # Debits.refund: a POST to the debit's refunds_uri with no body refunds all of it...
        whole = calls["Debits.refund"]
        assert "error" not in whole, whole
        assert (whole["result"]["amount"], whole["result"]["debit"]["id"]) == (1254, "WDdemo1254")
        # ... and a second one, with nothing left, gets the vendor's error.
        again = calls["Debits.refund again"]["error"]
        assert (again["status_code"], again["category_code"]) == (409, "debit-already-refunded")

        made = calls["Refunds.create"]["result"]
        assert (made["amount"], made["description"], made["meta"]) == (
            1000,
            "partial",
            {"order": "1"},
        )
        assert calls["Refunds.get"]["result"]["id"] == made["id"]
        changed = calls["Refunds.update"]["result"]
        assert (changed["description"], changed["meta"]) == ("changed", {"order": "2"})
        listed = [refund["id"] for refund in calls["Refunds.list"]["result"]["items"]]
        assert made["id"] in listed and whole["result"]["id"] in listed

        by_account = calls["account Refunds.create"]["result"]
        assert (by_account["amount"], by_account["account"]["id"]) == (500, "ACdemobuyer")
        on_account = calls["account Refunds.list"]["result"]["items"]
        assert by_account["id"] in [refund["id"] for refund in on_account]

        too_much = calls["Refunds.create too much"]["error"]
        assert too_much["status_code"] == 400, too_much  # the debit's 431 cannot give 432

        # The money moved as the vendor moves it: out of escrow, once per refund.
        assert marketplace(mock.root)["in_escrow"] == escrow_before - 1254 - 1000 - 500


def marketplace(root: str) -> dict[str, Any]:
    answer = httpx.get(f"{root}{MARKETPLACE}", auth=(DEMO_BALANCED_SECRET, ""))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_what_balanceds_python_client_sends_to_a_debits_refunds_uri_is_accepted():
    """`balanced` 0.11.15's Debit.refund() runs on Python 2 only, so its request is sent here as
    it builds it (resources.py: Refund(uri=refunds_uri, debit_uri=..., amount=None,
    description=None, meta={}).save()): null amount is all of the debit."""
    secret = (DEMO_BALANCED_SECRET, "")
    with serve(MockConfig()) as mock, httpx.Client(base_url=mock.root, auth=secret) as client:
        debit = f"{MARKETPLACE}/debits/WDdemo431"
        sent: dict[str, Any] = {"debit_uri": debit, "amount": None, "description": None, "meta": {}}
        made = client.post(f"{debit}/refunds", json=sent)
        assert made.status_code == 201, made.text
        assert (made.json()["amount"], made.json()["debit"]["id"]) == (431, "WDdemo431")
        # A debit_uri that names another debit than the refunds_uri's is refused, changing nothing.
        other = {"debit_uri": f"{MARKETPLACE}/debits/WDdemo5000", "amount": 5}
        refused = client.post(f"{MARKETPLACE}/debits/WDdemo1254/refunds", json=other)
        assert (refused.status_code, refused.json()["category_code"]) == (409, "debit-not-found")
        listed = client.get(f"{MARKETPLACE}/debits/WDdemo1254/refunds").json()
        assert listed["total"] == 0
        missing = client.post(f"{MARKETPLACE}/debits/WDnone/refunds")
        assert (missing.status_code, missing.json()["category_code"]) == (404, "not-found")
