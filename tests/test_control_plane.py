"""What a frontend developer drives the mock with: Prefer, faults, advancing refunds, the state
document, the request journal and sessions. Every answer is checked against its contract."""

from __future__ import annotations

import random
import threading
import uuid
from decimal import Decimal

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.control.journal import Journal, Query
from mock_server.faults import Draw, Fault, FaultBook
from mock_server.spec import CONTROL_CONTRACT
from mock_server.store.backends import SQLiteBackend, store_backend
from mock_server.store.memory import MemoryStore
from tests.support import DEMO_AUTH, JSON, ContractClient, serve

URL = "/accounts/demo_account_credit_balance/refunds"
REFUND = {"method": "ACH", "type": "CREDIT_BALANCE_REFUND", "amount": 1}


def balance(v3, account: str = "demo_account_credit_balance") -> Decimal:
    return Decimal(str(v3.get(f"/accounts/{account}").json()["current_balance"]))


def refund_tokens(v3) -> list[str]:
    return [r["token"] for r in v3.get(f"{URL}?count=100").json()["data"]]


# Prefer ------------------------------------------------------------------------------------


def test_prefer_code_answers_that_documented_error_in_the_vendor_shape_and_changes_nothing(v3):
    before = (balance(v3), refund_tokens(v3))
    response = v3.post(URL, json=REFUND, headers={"Prefer": "code=409"})
    assert response.status_code == 409
    assert response.json()["error_code"] == "409001"
    assert "Prefer: code=409" in response.json()["error_message"]
    assert (balance(v3), refund_tokens(v3)) == before


def test_prefer_code_for_a_success_answers_the_contracts_example(v3):
    response = v3.post(URL, json=REFUND, headers={"Prefer": "code=201"})
    assert response.status_code == 201
    assert response.json()["token"] == "my_refund_token_01"  # the contract's example
    assert "my_refund_token_01" not in refund_tokens(v3)


def test_prefer_example_answers_that_named_example(v3):
    token = v3.post(URL, json=REFUND).json()["token"]
    completed = v3.get(f"{URL}/{token}", headers={"Prefer": "example=completed"})
    assert (completed.status_code, completed.json()["status"]) == (200, "COMPLETED")
    assert v3.get(f"{URL}/{token}").json()["status"] == "PENDING"  # the real one is untouched
    unknown = v3.get(f"{URL}/{token}", headers={"Prefer": "example=lost"})
    assert unknown.status_code == 400
    assert "named: completed, returned, cancelled" in unknown.json()["error_message"]


def test_prefer_for_something_the_contract_does_not_document_is_refused(v3, balanced):
    undocumented = v3.post(URL, json=REFUND, headers={"Prefer": "code=302"})
    assert undocumented.status_code == 400
    assert (
        "documented: 201, 400, 401, 404, 409, 413, 415, default"
        in (undocumented.json()["error_message"])
    )
    # `default` documents every error, but the vendor's error table has no 418 to answer with.
    no_such_error = v3.post(URL, json=REFUND, headers={"Prefer": "code=418"})
    assert no_such_error.status_code == 400
    assert "no status 418" in no_such_error.json()["error_message"]
    assert v3.post(URL, json=REFUND, headers={"Prefer": "example=nope"}).status_code == 400
    assert v3.post(URL, json=REFUND, headers={"Prefer": "code=4o9"}).status_code == 400
    # Balanced errors come in Balanced's shape.
    forced = balanced.get("/marketplaces", headers={"Prefer": "code=500"})
    assert forced.status_code == 500
    assert forced.json()["category_code"] == "internal-server-error"


def test_prefer_still_needs_valid_credentials_and_a_valid_request(v3, marqeta):
    anonymous = marqeta.request("POST", URL, json=REFUND, headers={"Prefer": "code=201"}, auth=None)
    assert anonymous.status_code == 401
    invalid = v3.post(URL, json={"method": "ACH"}, headers={"Prefer": "code=201"})
    assert invalid.status_code == 400


# Faults ------------------------------------------------------------------------------------


def test_next_answers_come_in_order_then_the_operation_answers_normally(mock_control, v3):
    set_fault = mock_control.put("/faults/marqeta/createRefund", json={"next": [500, 404]})
    assert set_fault.status_code == 200
    before = balance(v3)
    answers = [v3.post(URL, json=REFUND) for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 404, 201]
    # Of the kind the contract's example for that status shows (NotFound: 404001, an account).
    assert [a.json().get("error_code") for a in answers[:2]] == ["500001", "404001"]
    assert balance(v3) == before + 1  # only the last one refunded
    listed = mock_control.get("/faults").json()["faults"]
    assert [(f["operation"], f["next"]) for f in listed] == [("createRefund", [])]


def test_latency_delays_every_answer(mock_control, v3, sleeps):
    mock_control.put("/faults/marqeta/retrieveAccount", json={"latency_ms": 300})
    sleeps.asked.clear()
    for _ in range(2):
        assert v3.get("/accounts/demo_account_credit_balance").status_code == 200
    assert sleeps.asked == [0.3, 0.3]
    assert mock_control.delete("/faults/marqeta/retrieveAccount").status_code == 204
    v3.get("/accounts/demo_account_credit_balance")
    assert sleeps.asked == [0.3, 0.3]  # no fault, no wait


def test_an_error_rate_of_one_fails_every_call_in_the_vendor_shape(mock_control, balanced):
    mock_control.put(
        "/faults/balanced/listMarketplaces", json={"error_rate": 1.0, "error_status": 500}
    )
    answers = [balanced.get("/marketplaces") for _ in range(5)]
    assert {a.status_code for a in answers} == {500}
    assert {a.json()["category_code"] for a in answers} == {"internal-server-error"}


def test_a_fault_the_contract_could_not_answer_is_refused(mock_control):
    # 502 is no status in Marqeta's error table; unknown operations and APIs are 404s.
    refused = mock_control.put("/faults/marqeta/createRefund", json={"next": [502]})
    assert refused.status_code == 400
    assert "cannot answer 502" in refused.json()["error_message"]
    unknown = mock_control.put("/faults/marqeta/launchRocket", json={"latency_ms": 1})
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "404003")
    assert mock_control.put("/faults/stripe/createRefund", json={}).status_code == 404
    assert (
        mock_control.put("/faults/marqeta/createRefund", json={"error_rate": 2}).status_code == 400
    )
    assert mock_control.get("/faults").json() == {"faults": []}


# Advancing refunds -------------------------------------------------------------------------


def test_advance_moves_one_step_along_the_forward_path_and_records_it(mock_control, v3):
    token = v3.post(URL, json=REFUND).json()["token"]
    statuses = [mock_control.post(f"/refunds/{token}/advance").json()["status"] for _ in range(3)]
    assert statuses == ["PROCESSING", "SUBMITTED", "COMPLETED"]
    at_end = mock_control.post(f"/refunds/{token}/advance")
    assert (at_end.status_code, at_end.json()["error_code"]) == (409, "409003")
    transitions = v3.get(f"{URL}/{token}/transitions?sort_by=createdTime&count=10").json()
    assert [t["status"] for t in transitions["data"]] == statuses


def test_advance_to_a_named_status_takes_the_allowed_path_and_applies_the_balance_rules(
    mock_control, v3
):
    before = balance(v3)
    token = v3.post(URL, json=REFUND).json()["token"]
    returned = mock_control.post(f"/refunds/{token}/advance", json={"status": "RETURNED"})
    assert returned.json()["status"] == "RETURNED"
    transitions = v3.get(f"{URL}/{token}/transitions?sort_by=createdTime&count=10").json()
    assert [t["status"] for t in transitions["data"]] == ["PROCESSING", "SUBMITTED", "RETURNED"]
    assert balance(v3) == before  # the refunded amount came back


def test_advance_refuses_what_the_lifecycle_does_not_allow_and_changes_nothing(mock_control, v3):
    token = v3.post(URL, json=REFUND).json()["token"]
    mock_control.post(f"/refunds/{token}/advance", json={"status": "PROCESSING"})
    refused = mock_control.post(f"/refunds/{token}/advance", json={"status": "CANCELLED"})
    assert (refused.status_code, refused.json()["error_code"]) == (409, "409002")
    assert v3.get(f"{URL}/{token}").json()["status"] == "PROCESSING"
    missing = mock_control.post("/refunds/no-such-refund/advance")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "404002")


# The state document ------------------------------------------------------------------------


def test_an_exported_state_restores_the_mock_exactly(mock_control, v3):
    snapshot = mock_control.get("/state").json()
    token = v3.post(URL, json=REFUND).json()["token"]
    assert mock_control.put("/state", json=snapshot).status_code == 200
    assert mock_control.get("/state").json() == snapshot
    assert v3.get(f"{URL}/{token}").status_code == 404
    # The restored state is live: its rules and listings work as before.
    again = v3.post(URL, json=REFUND | {"token": token})
    assert again.status_code == 201
    assert refund_tokens(v3)[0] == token


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.append(dict(r[0])), "already exists"),
        (lambda r: r[0].update(kind="marqeta.rocket"), "unknown kind"),
        (lambda r: r[0]["record"].update(current_balance="lots"), "not a valid Decimal"),
        (lambda r: r[0]["record"].update(extra=1), "wrong type or spelling"),
        (lambda r: r[0]["record"].pop("token"), "not a valid record"),
    ],
    ids=["duplicate key", "unknown kind", "bad money", "unknown field", "missing field"],
)
def test_a_bad_state_document_is_refused_and_changes_nothing(mock_control, change, message):
    before = mock_control.get("/state").json()
    broken = mock_control.get("/state").json()
    change(broken["records"])
    refused = mock_control.put("/state", json=broken)
    assert refused.status_code == 400
    assert message in refused.json()["error_message"]
    assert mock_control.get("/state").json() == before


# The request journal -----------------------------------------------------------------------


def test_the_journal_shows_requests_newest_first_without_credentials(mock_control, v3):
    created = v3.post(URL, json=REFUND | {"description": "journal me"})
    v3.get("/accounts/nobody")
    entries = mock_control.get("/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v3/accounts/nobody", 404),
        ("POST", "/v3" + URL, 201),
    ]
    assert '"journal me"' in entries[1]["request_body"]
    assert entries[1]["response_body"] == created.text
    assert "demo_access_token" not in mock_control.get("/requests").text
    only_errors = mock_control.get("/requests?status=404").json()["requests"]
    assert [e["path"] for e in only_errors] == ["/v3/accounts/nobody"]
    by_path = mock_control.get("/requests", params={"path": "/v3" + URL}).json()["requests"]
    assert [e["method"] for e in by_path] == ["POST"]
    assert mock_control.delete("/requests").status_code == 204
    assert mock_control.get("/requests").json() == {"requests": [], "matched": 0}


# Sessions ----------------------------------------------------------------------------------


def test_each_session_sees_and_changes_only_its_own_state(mock_control, v3, default_v3):
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    as_alice, as_bob = {"X-Mock-Session": alice}, {"X-Mock-Session": bob}
    token = v3.post(URL, json=REFUND, headers=as_alice).json()["token"]
    assert v3.get(f"{URL}/{token}", headers=as_alice).status_code == 200
    assert default_v3.get(f"{URL}/{token}").status_code == 404
    assert v3.get(f"{URL}/{token}", headers=as_bob).status_code == 404
    # Each session starts from the start fixtures, and its balance moves on its own.
    assert balance(default_v3) == balance(v3) == Decimal("-1250")
    assert Decimal(
        str(v3.get(URL.removesuffix("/refunds"), headers=as_alice).json()["current_balance"])
    ) == Decimal("-1249")
    # Control operations act on the session named too.
    mock_control.post("/reset", headers=as_alice)
    assert v3.get(f"{URL}/{token}", headers=as_alice).status_code == 404
    sessions = mock_control.get("/sessions").json()["sessions"]
    assert {alice, bob} <= set(sessions)
    journaled = mock_control.get("/requests", params={"session": alice}).json()["requests"]
    assert journaled and all(e["session"] == alice for e in journaled)


def test_a_bad_session_name_is_refused_in_the_vendor_shape(v3, balanced):
    refused = v3.get(URL, headers={"X-Mock-Session": "../etc"})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "400001")
    assert balanced.get("/marketplaces", headers={"X-Mock-Session": "a" * 65}).status_code == 400


def test_the_journal_keeps_only_the_newest_entries_it_has_room_for():
    journal = Journal(size=2)
    for number in range(3):
        journal.record(**JOURNAL_FIELDS, path=f"/v3/{number}")
    assert [e["path"] for e in journal.entries()] == ["/v3/2", "/v3/1"]
    assert [e["id"] for e in journal.entries(limit=1)] == [3]


def test_a_journal_entry_reads_as_json_with_its_time_in_utc_and_its_bodies_as_text():
    journal = Journal(size=2)
    journal.record(
        **{
            **JOURNAL_FIELDS,
            "at": 1_764_028_800.25,
            "request_body": b'{"amount": 1}',
            "response_body": b'{"note": "caf\xc3\xa9 \xff"}',  # not all UTF-8: shown anyway
        },
        path="/v3/accounts",
    )
    [entry] = journal.entries()
    assert entry["at"] == "2025-11-25T00:00:00.250Z"
    assert entry["request_body"] == '{"amount": 1}'
    assert entry["response_body"] == '{"note": "caf\u00e9 \ufffd"}'
    assert journal.entries(Query(body={"amount": 1})) == [entry]


def test_one_sessions_traffic_never_evicts_another_sessions_journal():
    """The sequence a QA engineer hit: a developer's requests, then a conformance run of
    hundreds in a session of its own; the developer's entries are all still there."""
    journal = Journal(size=1000)
    for number in range(40):
        journal.record(**JOURNAL_FIELDS, path=f"/v3/mine/{number}")
    for number in range(2500):
        journal.record(**{**JOURNAL_FIELDS, "session": "conformance-1"}, path=f"/v3/{number}")
    mine = journal.entries(Query(path="/v3/mine/"), limit=100)
    assert len(mine) == 40
    theirs = journal.entries(Query(session="conformance-1"), limit=2000)
    assert len(theirs) == 1000 and theirs[0]["path"] == "/v3/2499"  # its own newest 1000
    everything = journal.entries(limit=5)
    assert [e["path"] for e in everything] == [f"/v3/{n}" for n in range(2499, 2494, -1)]


def test_the_journal_stays_under_its_byte_cap_taking_from_the_largest_session():
    body = b"x" * 1000
    journal = Journal(size=1000, max_bytes=20_000)
    for number in range(5):
        journal.record(**{**JOURNAL_FIELDS, "response_body": body}, path=f"/v3/mine/{number}")
    for number in range(100):
        journal.record(
            **{**JOURNAL_FIELDS, "session": "big", "response_body": body}, path=f"/v3/{number}"
        )
    assert len(journal.entries(Query(path="/v3/mine/"))) == 5  # the small session is left alone
    big = journal.entries(Query(session="big"), limit=1000)
    assert 5 <= len(big) < 20 and big[0]["path"] == "/v3/99"
    assert (5 + len(big)) * (1000 + 256) <= 20_000 + 1300


JOURNAL_FIELDS = {
    "at": 1_764_028_800.0,  # 2025-11-25T00:00:00Z
    "method": "GET",
    "query": "",
    "session": None,
    "operation": "listRefunds",
    "status": 200,
    "duration_ms": 1.0,
    "request_body": None,
    "response_body": None,
    "truncated": False,
    "refused": None,
    "connection_fault": None,
}


def test_jitter_and_error_rate_draw_within_their_bounds():
    book = FaultBook(random.Random(7))
    book.set("marqeta", "createRefund", Fault(latency_ms=100, jitter_ms=50, error_rate=0.25))
    draws = [book.draw("marqeta", "createRefund") for _ in range(400)]
    assert all(0.1 <= d.delay_seconds <= 0.15 for d in draws)
    assert max(d.delay_seconds for d in draws) - min(d.delay_seconds for d in draws) > 0.04
    failed = sum(d.status == 500 for d in draws)
    assert 60 <= failed <= 140  # a quarter of 400, give or take
    assert book.draw("marqeta", "retrieveRefund") == Draw()  # other operations are untouched


def test_a_deleted_session_is_gone_with_its_state_and_starts_afresh_when_named_again(
    mock_control, v3, store_url
):
    name = f"gone-{uuid.uuid4().hex[:8]}"
    as_it = {"X-Mock-Session": name}
    token = v3.post(URL, json=REFUND, headers=as_it).json()["token"]
    assert name in mock_control.get("/sessions").json()["sessions"]
    backend = store_backend(store_url)
    kept_in_a_file = isinstance(backend, SQLiteBackend)
    assert kept_in_a_file == store_url.startswith("sqlite:")
    assert not isinstance(backend, SQLiteBackend) or backend.session_file(name).exists()

    assert mock_control.delete(f"/sessions/{name}").status_code == 204
    assert name not in mock_control.get("/sessions").json()["sessions"]
    assert not isinstance(backend, SQLiteBackend) or not backend.session_file(name).exists()
    gone = mock_control.delete(f"/sessions/{name}")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "404004")
    # Named again, it is a new session made from the start fixtures.
    assert v3.get(f"{URL}/{token}", headers=as_it).status_code == 404
    account = v3.get("/accounts/demo_account_credit_balance", headers=as_it).json()
    assert Decimal(str(account["current_balance"])) == Decimal("-1250")


def test_deleting_a_session_leaves_the_others_alone(mock_control, v3):
    kept, dropped = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("kept", "dropped"))
    token = v3.post(URL, json=REFUND, headers={"X-Mock-Session": kept}).json()["token"]
    v3.post(URL, json=REFUND, headers={"X-Mock-Session": dropped})
    mock_control.delete(f"/sessions/{dropped}")
    assert v3.get(f"{URL}/{token}", headers={"X-Mock-Session": kept}).status_code == 200
    refused = mock_control.delete("/sessions/not a name!")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "400001")


def test_a_fault_set_for_a_session_hits_only_that_session(mock_control, v3, default_v3):
    alice, bob = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("alice", "bob"))
    mine = mock_control.put(
        "/faults/marqeta/retrieveAccount", json={"next": [500]}, headers={"X-Mock-Session": alice}
    )
    assert mine.json()["session"] == alice
    account = URL.removesuffix("/refunds")
    assert v3.get(account, headers={"X-Mock-Session": bob}).status_code == 200
    assert default_v3.get(account).status_code == 200  # nor the default state
    assert v3.get(account, headers={"X-Mock-Session": alice}).status_code == 500
    assert v3.get(account, headers={"X-Mock-Session": alice}).status_code == 200  # used up


def test_a_fault_set_without_a_session_hits_every_request_until_cleared(
    live_mock, mock_control, default_v3, session
):
    everyone = ContractClient(
        f"{live_mock.root}/__mock__", CONTROL_CONTRACT, None, JSON, live_mock.transport
    )
    everyone.put("/faults/marqeta/retrieveAccount", json={"error_rate": 1})
    account = URL.removesuffix("/refunds")
    assert default_v3.get(account).status_code == 500
    assert default_v3.get(account, headers=session).status_code == 500
    # A session's own faults are cleared with it; everyone's only without the header.
    assert mock_control.delete("/faults").status_code == 204
    assert default_v3.get(account).status_code == 500
    assert everyone.delete("/faults").status_code == 204
    assert default_v3.get(account).status_code == 200
    everyone.close()


# The dashboard's reads stay small and off the way of everyone else ---------------------------


def test_the_overview_is_bounded_whatever_the_state_holds(mock_control, v3):
    for _ in range(30):
        v3.post(URL, json=REFUND)
    shown = mock_control.get("/overview?limit=5").json()
    (account,) = [a for a in shown["marqeta"]["accounts"] if a["token"] == URL.split("/")[2]]
    assert (len(account["refunds"]), account["refunds_total"]) == (5, 30)
    assert len(account["journal_entries"]) == 5 and account["journal_entries_total"] == 30
    newest = v3.get(f"{URL}?count=5&sort_by=-lastModifiedTime").json()["data"]
    assert [r["token"] for r in account["refunds"]] == [r["token"] for r in newest]
    assert len(shown["marqeta"]["accounts"]) <= 5


def test_the_journal_since_a_cursor_holds_only_what_is_newer(mock_control, v3):
    v3.get("/accounts/first")
    (seen,) = mock_control.get("/requests?limit=1").json()["requests"]
    v3.get("/accounts/second")
    v3.get("/accounts/third")
    newer = mock_control.get(f"/requests?since={seen['id']}").json()["requests"]
    assert [entry["path"] for entry in newer] == ["/v3/accounts/third", "/v3/accounts/second"]
    assert mock_control.get(f"/requests?since={newer[0]['id']}").json()["requests"] == []


class ExportWaitsStore:
    """A memory store whose export waits until the test lets it go: an export that takes long."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.blocking = inner.blocking
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export(self):
        self.exporting.set()
        assert self.release.wait(timeout=60)
        return self.inner.export()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_state_export_in_progress_does_not_hold_up_other_requests():
    store = ExportWaitsStore(MemoryStore())
    with serve(MockConfig(), store) as mock:
        exported: list[httpx.Response] = []
        exporter = threading.Thread(
            target=lambda: exported.append(httpx.get(f"{mock.root}/__mock__/state", timeout=60))
        )
        exporter.start()
        try:
            assert store.exporting.wait(timeout=30)
            # Were the export on the event loop, this would wait for it (and time out).
            account = httpx.get(
                f"{mock.root}/v3/accounts/demo_account_credit_balance", auth=DEMO_AUTH, timeout=10
            )
            assert account.status_code == 200
        finally:
            store.release.set()
            exporter.join(timeout=60)
        assert exported[0].status_code == 200
