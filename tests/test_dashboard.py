"""The dashboard at /__mock__/ in a real browser: headless Chromium (Debian's package) driven by
Playwright. It shows what the API changed, and its buttons change the mock."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from mock_server.app import MockConfig
from mock_server.balanced.vendor import DEMO_BALANCED_SECRET
from mock_server.http_clients import tls_context
from tests.support import (
    DEMO_AUTH,
    ROOT,
    chromium_browser,
    defective_target,
    serve,
    serve_app,
    with_mock,
)

ARTIFACTS = ROOT / "test-artifacts"
URL = "/v3/accounts/demo_account_credit_balance/refunds"


@pytest.fixture(scope="module")
def browser_page() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser.new_page(viewport={"width": 1400, "height": 1000})


def test_the_dashboard_shows_a_refund_made_through_the_api_and_advances_it(browser_page):
    from playwright.sync_api import expect

    page = browser_page
    polls = PollWatch()
    page.on("request", polls.started)
    page.on("requestfinished", polls.finished)
    page.on("requestfailed", polls.finished)
    with (
        serve(MockConfig()) as mock,
        httpx.Client(verify=tls_context(), base_url=mock.root, auth=DEMO_AUTH) as api,
    ):
        page.goto(f"{mock.root}/__mock__/")
        account = page.locator('[data-account="demo_account_credit_balance"]')
        expect(account).to_contain_text("balance -1250.00 USD")

        created = api.post(
            URL,
            json={
                "token": "dash-1",
                "method": "ACH",
                "amount": 25.5,
                "type": "CREDIT_BALANCE_REFUND",
            },
        )
        assert created.status_code == 201
        row = page.locator('tr[data-refund="dash-1"]')
        expect(row.locator("[data-status]")).to_have_text("PENDING")
        expect(account).to_contain_text("balance -1224.50 USD")
        expect(page.locator("#journal")).to_contain_text(f"{URL}")

        row.get_by_role("button", name="Advance").click()
        expect(row.locator("[data-status]")).to_have_text("PROCESSING")
        assert api.get(f"{URL}/dash-1").json()["status"] == "PROCESSING"

        # The Balanced panel, drawn from the same declarations: a refund shows on its debit.
        refunded = api.post(
            "/v1/marketplaces/TEST-MPdemo/refunds",
            json={"debit_uri": "/v1/marketplaces/TEST-MPdemo/debits/WDdemo431", "amount": 100},
            auth=(DEMO_BALANCED_SECRET, ""),
        )
        assert refunded.status_code == 201
        debit = page.locator('[data-marketplace="TEST-MPdemo"] tr[data-debit="WDdemo431"]')
        expect(debit).to_contain_text(f"{refunded.json()['id']} (100)")

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)

        page.get_by_role("button", name="Reset to start fixtures").click()
        expect(row).to_have_count(0)
        assert api.get(f"{URL}/dash-1").status_code == 404

        fixtures = {"marqeta": {"accounts": [{"token": "from_a_file", "current_balance": -7}]}}
        page.locator("#fixtures").set_input_files(
            files=[
                {
                    "name": "f.json",
                    "mimeType": "application/json",
                    "buffer": json.dumps(fixtures).encode(),
                }
            ]
        )
        expect(page.locator('[data-account="from_a_file"]')).to_contain_text("balance -7.00")
        assert api.get("/v3/accounts/from_a_file").status_code == 200
    # It polls a bounded overview and the journal since its cursor, one poll at a time; never
    # the whole state.
    assert polls.overviews >= 2 and polls.most_at_once == 1
    assert not polls.whole_state


class PollWatch:
    """What the page asked the control API for, and how many overview polls overlapped."""

    def __init__(self) -> None:
        self.overviews = self.in_flight = self.most_at_once = 0
        self.whole_state = False

    def started(self, request) -> None:
        self.whole_state |= request.url.split("?")[0].endswith("/__mock__/state")
        if "/__mock__/overview" in request.url:
            self.overviews += 1
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)

    def finished(self, request) -> None:
        if "/__mock__/overview" in request.url:
            self.in_flight -= 1


# What a browser app's fetch() sees of each connection fault (docs/mock.md says the same).
SEEN_BY_FETCH = {
    "reset": "fetch failed: TypeError: Failed to fetch",
    "empty": "fetch failed: TypeError: Failed to fetch",
    "malformed-json": "200, body failed: SyntaxError",
    "reset-mid-body": "201, body failed: TypeError",
    "truncated": "201, body failed: TypeError",
    "slow": "201, body read",
}
FETCH_UNDER_FAULT = """async ([url, kind, auth]) => {
  let answer;
  try {
    answer = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
      "Authorization": auth, "Prefer": "fault=" + kind},
      body: JSON.stringify({method: "ACH", type: "CREDIT_BALANCE_REFUND", amount: 1})});
  } catch (error) { return "fetch failed: " + error.name + ": " + error.message; }
  try { await answer.json(); return answer.status + ", body read"; }
  catch (error) { return answer.status + ", body failed: " + error.name + ": " + error.message; }
}"""


def test_a_browser_apps_fetch_sees_each_connection_fault(browser_page):
    import base64

    async def no_wait(_seconds: float) -> None:
        return None

    auth = "Basic " + base64.b64encode(":".join(DEMO_AUTH).encode()).decode()
    with serve(MockConfig(sleep=no_wait)) as mock:
        browser_page.goto(f"{mock.root}/__mock__/health")  # the mock's origin: no CORS needed
        seen = {
            kind: browser_page.evaluate(FETCH_UNDER_FAULT, [f"{mock.root}{URL}", kind, auth])
            for kind in SEEN_BY_FETCH
        }
    for kind, expected in SEEN_BY_FETCH.items():
        assert seen[kind].startswith(expected), (kind, seen[kind])


def test_the_dashboard_sets_a_connection_fault_and_its_journal_shows_what_the_client_got(
    browser_page,
):
    from playwright.sync_api import expect

    page = browser_page
    with (
        serve(MockConfig()) as mock,
        httpx.Client(verify=tls_context(), base_url=mock.root, auth=DEMO_AUTH) as api,
    ):
        page.goto(f"{mock.root}/__mock__/")
        # The choices come from the contracts: every operation, every connection fault.
        page.locator("#fault-operation").select_option("marqeta/createRefund")
        page.locator("#fault-kind").select_option("reset")
        page.get_by_role("button", name="Set fault").click()
        expect(page.locator("#faults-set")).to_contain_text("createRefund: reset")
        with pytest.raises(httpx.ReadError):
            api.post(URL, json={"method": "ACH", "amount": 1, "type": "CREDIT_BALANCE_REFUND"})
        journal = page.locator("#journal tbody tr").first
        expect(journal).to_contain_text("no answer (reset)")
        expect(journal).to_contain_text("createRefund")

        # A request the contract refuses says so, and why.
        api.post(URL, json={"method": "ACH", "amount": "x", "type": "CREDIT_BALANCE_REFUND"})
        expect(page.locator("#journal tbody tr[data-refused]").first).to_contain_text(
            "refused by the contract"
        )
        page.get_by_role("button", name="Clear faults").click()
        expect(page.locator("#faults-set")).to_have_text("No faults set.")

        # Swagger UI's own files and CORS preflights stay out of the journal.
        assert api.get("/v3/ui/").status_code == 200
        api.options(
            URL, headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
        )
        assert (
            api.post(
                URL, json={"method": "ACH", "amount": 1, "type": "CREDIT_BALANCE_REFUND"}
            ).status_code
            == 201
        )
        journaled = api.get("/__mock__/requests").json()["requests"]
        assert [(e["method"], e["path"]) for e in journaled[:1]] == [("POST", URL)]
        assert not [e for e in journaled if "/ui" in e["path"] or e["method"] == "OPTIONS"]

        # No Advance where a refund has nowhere further to go.
        made = api.post(
            URL,
            json={"token": "done-1", "method": "ACH", "amount": 1, "type": "CREDIT_BALANCE_REFUND"},
        )
        assert made.status_code == 201
        assert (
            api.post("/__mock__/refunds/done-1/advance", json={"status": "COMPLETED"}).status_code
            == 200
        )
        done = page.locator('tr[data-refund="done-1"]')
        expect(done.locator("[data-status]")).to_have_text("COMPLETED")
        expect(done.get_by_role("button", name="Advance")).to_be_disabled()

        # The journal's status column stays in view at a laptop's width.
        page.set_viewport_size({"width": 1280, "height": 900})
        status_cell = page.locator("#journal tbody tr").first.locator("td").nth(3)
        box = status_cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280


def test_with_a_control_token_the_dashboard_says_how_to_give_it(browser_page):
    from playwright.sync_api import expect

    with serve(MockConfig(control_token="s3cret")) as mock:
        browser_page.goto(f"{mock.root}/__mock__/")
        expect(browser_page.locator("#message")).to_contain_text("/__mock__/#token=YOUR_TOKEN")
        browser_page.goto(f"{mock.root}/__mock__/#token=s3cret")
        browser_page.reload()
        expect(browser_page.locator('[data-account="demo_account_credit_balance"]')).to_be_visible()


def test_through_the_proxy_the_dashboard_shows_violations_per_operation(browser_page):
    """`refund-mock proxy`'s dashboard: a panel of violations per operation, and in the journal
    each exchange with what it broke."""
    from playwright.sync_api import expect

    page = browser_page
    with serve_app(defective_target()) as target, with_mock(f"{target}/v3") as root:
        page.goto(f"{root}/__mock__/")
        refund = {"method": "ACH", "amount": 5, "type": "CREDIT_BALANCE_REFUND"}
        for _ in range(2):
            httpx.post(f"{root}{URL}", json=refund, auth=DEMO_AUTH)
        httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH)
        panel = page.locator("#proxy")
        expect(panel).to_be_visible()
        expect(page.locator("#inside")).to_be_visible()  # the state shown is the mock's inside
        expect(page.locator("#faults")).to_be_hidden()
        expect(page.locator("#proxy-title")).to_contain_text("3 exchanges, 3 broke the contract")
        created = page.locator('#proxy-report tr[data-operation="createRefund"]')
        expect(created).to_contain_text("response_schema_conformance x2")
        listed = page.locator('#proxy-report tr[data-operation="listAccounts"]')
        expect(listed).to_contain_text("content_type_conformance x1")
        newest = page.locator("#journal tbody tr").first
        expect(newest).to_contain_text("listAccounts")
        expect(newest.locator(".violation")).to_contain_text("content_type_conformance")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "proxy-dashboard.png"), full_page=True)


def test_the_mocks_own_dashboard_has_no_proxy_panel(browser_page):
    from playwright.sync_api import expect

    with serve(MockConfig()) as mock:
        browser_page.goto(f"{mock.root}/__mock__/")
        # Two requests seen in turn: the poll that showed the first has asked for the report.
        for path in ("/v3/accounts", "/v3/accounts/demo_account_credit_balance"):
            httpx.get(f"{mock.root}{path}", auth=DEMO_AUTH)
            expect(browser_page.locator("#journal tbody tr").first).to_contain_text(path)
        expect(browser_page.locator("#proxy")).to_be_hidden()
